"""Switchboard acw service"""
