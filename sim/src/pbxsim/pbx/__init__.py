"""The Cloud PBX platform: tenants, their users and extensions, service transitions, deletion."""
