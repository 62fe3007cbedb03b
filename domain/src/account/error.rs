use super::{DomainRefusal, Plan};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("account not found")]
    NotFound,
    #[error("this account already exists")]
    AlreadyExists,
    #[error("the account is already on the {0:?} plan")]
    SamePlan(Plan),
    #[error("a trial is only available when the account is created")]
    TrialOnlyAtStart,
    #[error("the {plan:?} plan allows {limit} people, and {in_use} are registered or invited: remove some first")]
    TooManyForPlan { plan: Plan, limit: u32, in_use: u32 },
    #[error("the plan's limit of {limit} people is reached ({in_use} registered or invited): upgrade the plan or remove someone")]
    PlanLimitReached { limit: u32, in_use: u32 },
    #[error("the free plan has no extranet: choose a paid plan to invite people from outside the company")]
    NoExtranetOnPlan,
    #[error("the trial has ended: choose a paid plan to invite people from outside the company")]
    TrialOver,
    #[error("{0}")]
    DomainNotAllowed(DomainRefusal),
    #[error("{0} is on both the allowed and the blocked list")]
    DomainOnBothLists(String),
}
