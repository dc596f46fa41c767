"""File drop capture of CSV/XLSX exports: `mode` (the drop directory, files in order, offsets)
and `exports` (reading an export and diffing it against the last one)."""
