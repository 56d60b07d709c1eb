"""The Feast feature repository: feature_store.yaml, entities, feature views and services."""
