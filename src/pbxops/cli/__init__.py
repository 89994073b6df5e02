"""The operator CLI, ``pbxops``: starts procedures, shows their progress, lists tickets."""
