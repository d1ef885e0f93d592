//! A rule component built against `hrsync:plugin@2.0.0`, which this host
//! does not implement: loading it must fail before compiling, naming both
//! versions.

wit_bindgen::generate!({
    inline: "
        package hrsync:plugin@2.0.0;
        interface rule-api {
            evaluate: func(batch: list<string>) -> list<bool>;
        }
        world rule {
            export rule-api;
        }
    ",
});

struct Future;

impl exports::hrsync::plugin::rule_api::Guest for Future {
    fn evaluate(batch: Vec<String>) -> Vec<bool> {
        batch.iter().map(|_| true).collect()
    }
}

export!(Future);
