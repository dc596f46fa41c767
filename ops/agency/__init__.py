"""Tools for an agency's IT team (`mpphub agency ...`): read a source as its connector sees it
(source.py), inspect it and propose a first mapping file (inspect.py), run a mapping over real
rows without publishing (check.py), and how far the hub has got with each table (status.py)."""
