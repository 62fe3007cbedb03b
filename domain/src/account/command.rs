use super::Plan;
use crate::AccountId;

#[derive(Debug, Clone, PartialEq)]
pub enum AccountCommand {
    Create {
        account: AccountId,
        name: String,
        plan: Plan,
    },
}
