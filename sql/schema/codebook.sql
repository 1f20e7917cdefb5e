-- Grain: one row per obstacle/facilitator of recovery (48 rows, OB01-OB27, FA01-FA21).
-- Loaded from analytics/codebook/risk_factors.csv at build time.
create table if not exists risk_factor_codebook (
    factor_code varchar primary key,
    direction varchar not null,           -- obstacle | facilitator
    main_theme varchar not null,          -- internal | external
    organizing_theme varchar not null,    -- e.g. family, socio_economic (unique with direction)
    first_order_category varchar not null,
    -- policy | community | organisational | interpersonal | individual
    ecological_level varchar not null
);

-- Grain: one row per instrument item (MSPSS, Family APGAR, TOP), with its valid range.
create table if not exists instrument_items (
    instrument varchar not null,
    item varchar not null,
    subscale varchar not null,
    min_value integer not null,
    max_value integer not null,
    scoring_note varchar,
    primary key (instrument, item)
);
