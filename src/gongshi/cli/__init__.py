"""The `gongshi` command."""
