"""The mailbox: an SMTP server that stores every message, and a Mailpit-shaped read API."""
