"""Reading published lists of heritage sites, without Django.

One module per source family (Wikidata query results, the UNESCO damaged-sites
list, generic CSV/GeoJSON with a column mapping, geoBoundaries regions); each
reads a file and yields :class:`~spadok.core.registry.rows.SiteRow` for the rows
it can use and :class:`~spadok.core.registry.rows.Skip` (a stable code and a
human reason) for those it cannot. :mod:`spadok.sites.services` turns them
into sites.
"""
