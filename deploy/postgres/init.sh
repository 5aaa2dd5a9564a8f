#!/usr/bin/env bash
# Creates one database and one login role per service, each role owning only its own database,
# and nobody else (PUBLIC) allowed to connect to it. The PostgreSQL image runs this once, when it
# initialises an empty data directory (mounted into /docker-entrypoint-initdb.d/).
#
# Each role's password comes from the environment: AAA_DB_PASSWORD, DEVICES_DB_PASSWORD,
# BILLING_DB_PASSWORD and AUDIT_DB_PASSWORD. Names and passwords reach psql as variables and are
# quoted by psql itself (:"name" as an identifier, :'password' as a literal), never pasted into SQL.
set -euo pipefail

SERVICES=(aaa devices billing audit)

for service in "${SERVICES[@]}"; do
  password_variable="${service^^}_DB_PASSWORD"
  if [[ -z "${!password_variable:-}" ]]; then
    echo "init.sh: ${password_variable} must be set to the ${service} role's password" >&2
    exit 1
  fi
done

for service in "${SERVICES[@]}"; do
  password_variable="${service^^}_DB_PASSWORD"
  psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
    --set "name=${service}" --set "password=${!password_variable}" <<'SQL'
CREATE ROLE :"name" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE CONNECT, TEMPORARY ON DATABASE :"name" FROM PUBLIC;
SQL
  echo "init.sh: created database ${service}, owned by role ${service}"
done
