"""The Feast feature repository: feature_store.yaml, entities, feature views and services.

`definitions` holds the Feast objects (and `build_definitions(data_dir)` for any data folder),
`compute` the pure pandas functions that turn exported records and events into the
point-in-time feature tables, and `store` builds a FeatureStore whose paths live under var_dir.
"""
