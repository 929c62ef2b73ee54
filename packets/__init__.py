"""Referral packets: recipient profiles, plan, render, redact, assemble, verify, sign."""
