-- The HTTP API's bearer tokens of a cluster, shared by every node (auth.DatabaseTokens): what a
-- single node's <data>/api-tokens file holds, the SHA-256 of each token and never the token. A
-- token belongs to an account: removing the account removes its tokens in the same transaction
-- (on delete cascade), so a token of a removed account is refused on every node at its next use.
create table if not exists api_tokens (
  hash text primary key check (length(hash) = 64),      -- SHA-256 of the token, lower-case hex
  account text not null references accounts (address) on delete cascade,
  created timestamptz not null,
  name text not null
);
create index if not exists api_tokens_account on api_tokens (account);
