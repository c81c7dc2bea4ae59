"""OAI-PMH 2.0 at /oai: public records (and the site registry) for aggregators."""
