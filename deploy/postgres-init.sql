-- Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d):
-- one database per service, owned by the application role (POSTGRES_USER).
CREATE DATABASE gateway;
CREATE DATABASE consent;
CREATE DATABASE records;
CREATE DATABASE exchange;
