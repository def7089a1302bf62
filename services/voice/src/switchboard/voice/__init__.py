"""Switchboard voice service"""
