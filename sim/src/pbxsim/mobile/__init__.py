"""The mobile platform: organisations, devices, activation codes, eSIM lines and call records."""
