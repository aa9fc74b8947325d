"""Offline emulators of every vendor (built in later releases)."""
