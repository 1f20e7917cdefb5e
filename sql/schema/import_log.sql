-- Grain: one row per import (or demo generation). The latest import_id is the store's data version.
create sequence if not exists import_id_seq start 1;

create table if not exists import_log (
    import_id integer primary key,
    started_at timestamp not null,
    finished_at timestamp not null,
    source varchar not null,              -- 'import', 'demo', 'upload'
    is_strict boolean not null,
    data_cutoff_date date not null,
    n_files integer not null,
    rows_loaded integer not null,
    rows_quarantined integer not null,
    rows_duplicate integer not null
);

-- Grain: one row per file of an import.
-- content_sha256 lets a re-import of the same file add nothing.
create table if not exists import_files (
    import_id integer not null,
    file_name varchar not null,
    table_name varchar not null,
    content_sha256 varchar not null,
    rows_read integer not null,
    rows_loaded integer not null,
    rows_quarantined integer not null,
    rows_duplicate integer not null,
    primary key (import_id, file_name)
);

-- Grain: one row per rejected row and problem. Nothing a clinic sends is lost: the raw row is kept.
create table if not exists quarantine (
    import_id integer not null,
    file_name varchar not null,
    table_name varchar not null,
    row_number integer not null,          -- 1-based data row in the file (the header is row 0)
    column_name varchar,                  -- null when the problem is the row as a whole
    reason varchar not null,
    raw_row json not null
);
