"""The collateral book the backend is configured with: its file format (model), and the
registry and opening prices it builds (build). Start-up reads it; a scenario embeds one."""
