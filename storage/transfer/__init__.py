"""Moving sessions in and out: export formats, redaction of exports, the import
format and the importer."""
