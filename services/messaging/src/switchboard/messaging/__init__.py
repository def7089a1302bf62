"""Switchboard messaging service"""
