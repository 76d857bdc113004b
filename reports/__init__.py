"""Documents: PDFs rendered by WeasyPrint from Jinja templates under reports/templates, all sharing
one layout (header, page numbers, generation time). Later: certificates, announcements, statistics."""
