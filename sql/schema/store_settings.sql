-- Grain: one row per setting. Store-level facts such as the schema version and the data cut-off.
create table if not exists store_settings (
    setting_key varchar primary key,
    setting_value varchar not null
);
