"""Switchboard runtime kit: settings, database, outbox, inbox, DLQ, durable timers, broker app factory,
telemetry and errors: the plumbing every service shares."""
