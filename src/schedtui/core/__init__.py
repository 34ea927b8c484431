"""The headless core: reads, decodes, describes and judges. Never imports Textual."""
