"""Switchboard gateway service"""
