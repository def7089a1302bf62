"""Switchboard event contracts: envelope, payloads, topic registry, AsyncAPI export"""
