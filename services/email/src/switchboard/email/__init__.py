"""Switchboard email service"""
