//! Compiles and runs the unit tests of newswatch's `src/rules/lemma.rs`
//! against the freshly built data, without building the whole daemon.
#![allow(dead_code)]

#[path = "../../../src/rules/lemma.rs"]
mod lemma;
