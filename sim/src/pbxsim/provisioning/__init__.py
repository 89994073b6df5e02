"""The reseller portal: customer accounts, their PBX connection, contacts, billing, eSIM pools."""
