"""Switchboard routing service"""
