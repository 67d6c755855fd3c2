"""What leaves the notebook: static figures (`figures.AttentionVisualizer`), the standalone HTML page
(`export.export_html`) and the files `attnwidget compare` writes (`report`, `phrasings`)."""
