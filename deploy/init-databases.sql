-- One PostgreSQL server, three databases: the app, MLflow's tracking store, Prefect's.
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
\c mentorhub
CREATE EXTENSION IF NOT EXISTS btree_gist;
