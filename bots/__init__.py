"""Discord and Telegram adapters over one command table."""
