pub use projections::testing::*;
