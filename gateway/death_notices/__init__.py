"""The linked death procedure (province-api.md §5): a notice, then lookup → stop with recovery → funeral dossier."""
