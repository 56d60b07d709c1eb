"""The recommendation service inside the app: champion/challenger models by MLflow alias, A/B routing, re-ranking."""
