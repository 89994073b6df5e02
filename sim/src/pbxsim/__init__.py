"""The outside world pbxops talks to, simulated: PBX platform, helpdesk and mailbox (see API.md)."""
