use super::{TaskChange, TaskCommand, TaskError, TaskEvent, TaskRole, TaskStatus};
use crate::services::DomainServices;
use crate::{PersonId, TaskDescription, TaskId, TaskTitle, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Task {
    id: Option<TaskId>,
    title: String,
    status: Option<TaskStatus>,
    creator: Option<PersonId>,
    roles: BTreeMap<PersonId, TaskRole>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    deadline: Option<Timestamp>,
    // No comments: a task's state must not grow with its talk, or every command on a
    // long-discussed task pays for the whole thread (docs/domain.md, "Tasks and guests" 5). Snapshots
    // written before this still carry a `comments` field, which serde skips.
}

impl Task {
    fn responsible(&self) -> Option<PersonId> {
        self.roles
            .iter()
            .find(|(_, role)| **role == TaskRole::Responsible)
            .map(|(person, _)| *person)
    }

    fn decide(
        &self,
        command: TaskCommand,
        _services: &DomainServices,
    ) -> Result<Option<TaskEvent>, TaskError> {
        if let TaskCommand::Create {
            task,
            title,
            description,
            creator,
            workgroup,
            deadline,
        } = command
        {
            if self.id.is_some() {
                return Err(TaskError::AlreadyExists);
            }
            return Ok(Some(TaskEvent::TaskCreated {
                task,
                title: title.into_string(),
                description: description.into_string(),
                creator,
                workgroup,
                deadline,
            }));
        }
        if self.id.is_none() {
            return Err(TaskError::NotFound);
        }
        Ok(match command {
            TaskCommand::Create { .. } => None,
            TaskCommand::Rename { title } => {
                let title = title.into_string();
                (title != self.title).then_some(TaskEvent::TaskRenamed { title })
            }
            TaskCommand::ChangeStatus { status } => {
                (Some(status) != self.status).then_some(TaskEvent::TaskStatusChanged { status })
            }
            TaskCommand::ChangeDescription { description } => {
                let description = description.into_string();
                (description != self.description)
                    .then_some(TaskEvent::TaskDescriptionChanged { description })
            }
            TaskCommand::SetDeadline { deadline } => {
                (deadline != self.deadline).then_some(TaskEvent::TaskDeadlineChanged { deadline })
            }
            TaskCommand::Update {
                title,
                status,
                description,
                deadline,
            } => {
                let mut changes = Vec::new();
                if let Some(title) = title.map(TaskTitle::into_string) {
                    if title != self.title {
                        changes.push(TaskChange::Title(title));
                    }
                }
                if let Some(status) = status.filter(|s| Some(*s) != self.status) {
                    changes.push(TaskChange::Status(status));
                }
                if let Some(description) = description.map(TaskDescription::into_string) {
                    if description != self.description {
                        changes.push(TaskChange::Description(description));
                    }
                }
                if let Some(deadline) = deadline.filter(|d| *d != self.deadline) {
                    changes.push(TaskChange::Deadline(deadline));
                }
                (!changes.is_empty()).then_some(TaskEvent::TaskUpdated { changes })
            }
            TaskCommand::Unassign { person } => {
                if !self.roles.contains_key(&person) {
                    return Err(TaskError::NotOnTask);
                }
                Some(TaskEvent::PersonUnassigned { person })
            }
            TaskCommand::Comment {
                comment,
                author,
                text,
            } => Some(TaskEvent::CommentAdded {
                comment,
                author,
                text: text.into_string(),
            }),
            TaskCommand::Assign { person, role } => {
                if Some(person) == self.creator {
                    return Err(TaskError::CreatorHasRole);
                }
                if self.roles.get(&person) == Some(&role) {
                    None
                } else {
                    let replaces = match role {
                        TaskRole::Responsible => self.responsible(),
                        _ => None,
                    };
                    Some(TaskEvent::PersonAssigned {
                        person,
                        role,
                        replaces,
                    })
                }
            }
        })
    }
}

crate::aggregate!(Task, "task", TaskCommand, TaskEvent, TaskError);

impl Task {
    fn evolve(&mut self, event: TaskEvent) {
        match event {
            TaskEvent::TaskCreated {
                task,
                title,
                description,
                creator,
                deadline,
                ..
            } => {
                self.id = Some(task);
                self.title = title;
                self.description = description;
                self.deadline = deadline;
                self.status = Some(TaskStatus::New);
                self.creator = Some(creator);
            }
            TaskEvent::TaskDescriptionChanged { description } => self.description = description,
            TaskEvent::TaskDeadlineChanged { deadline } => self.deadline = deadline,
            TaskEvent::PersonUnassigned { person } => {
                self.roles.remove(&person);
            }
            TaskEvent::CommentAdded { .. } => {}
            TaskEvent::TaskRenamed { title } => self.title = title,
            TaskEvent::TaskStatusChanged { status } => self.status = Some(status),
            TaskEvent::TaskUpdated { .. } => {
                for change in event.one_by_one() {
                    self.evolve(change);
                }
            }
            TaskEvent::PersonAssigned {
                person,
                role,
                replaces,
            } => {
                if let Some(previous) = replaces {
                    self.roles.remove(&previous);
                }
                self.roles.insert(person, role);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::services_at;
    use crate::Timestamp;
    use crate::{CommentId, CommentText, TaskDescription, TaskTitle};
    use cqrs_es::test::TestFramework;

    type TaskTest = TestFramework<Task>;

    fn title(text: &str) -> TaskTitle {
        TaskTitle::parse(text).unwrap()
    }

    fn description(text: &str) -> TaskDescription {
        TaskDescription::parse(text).unwrap()
    }

    struct Given {
        task: TaskId,
        creator: PersonId,
    }

    fn given() -> Given {
        Given {
            task: TaskId::new_random(),
            creator: PersonId::new_random(),
        }
    }

    fn test() -> TaskTest {
        TaskTest::with(services_at(Timestamp(0)))
    }

    fn created(g: &Given) -> TaskEvent {
        TaskEvent::TaskCreated {
            task: g.task,
            title: "Ship the catalogue".into(),
            description: "Print run of 500".into(),
            creator: g.creator,
            workgroup: None,
            deadline: None,
        }
    }

    #[test]
    fn a_task_is_created_with_a_trimmed_title() {
        let g = given();
        test()
            .given_no_previous_events()
            .when(TaskCommand::Create {
                task: g.task,
                title: title("  Ship the catalogue "),
                description: description("Print run of 500"),
                creator: g.creator,
                workgroup: None,
                deadline: None,
            })
            .then_expect_events(vec![created(&g)]);
    }

    #[test]
    fn creating_twice_is_refused() {
        let g = given();
        let create = |name: &str| TaskCommand::Create {
            task: g.task,
            title: title(name),
            description: description(""),
            creator: g.creator,
            workgroup: None,
            deadline: None,
        };
        test()
            .given(vec![created(&g)])
            .when(create("Again"))
            .then_expect_error(TaskError::AlreadyExists);
    }

    #[test]
    fn an_update_is_one_event_with_only_the_fields_that_changed() {
        let g = given();
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Update {
                title: Some(title("Ship the new catalogue")),
                status: Some(TaskStatus::InProgress),
                // The same description as now: no change, so not in the event.
                description: Some(description("Print run of 500")),
                deadline: Some(None),
            })
            .then_expect_events(vec![TaskEvent::TaskUpdated {
                changes: vec![
                    TaskChange::Title("Ship the new catalogue".into()),
                    TaskChange::Status(TaskStatus::InProgress),
                ],
            }]);
    }

    #[test]
    fn an_update_that_changes_nothing_records_nothing() {
        let g = given();
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Update {
                title: Some(title("Ship the catalogue")),
                status: Some(TaskStatus::New),
                description: None,
                deadline: None,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_update_of_a_task_that_does_not_exist_is_refused_whole() {
        test()
            .given_no_previous_events()
            .when(TaskCommand::Update {
                title: Some(title("x")),
                status: Some(TaskStatus::Completed),
                description: None,
                deadline: None,
            })
            .then_expect_error(TaskError::NotFound);
    }

    #[test]
    fn changes_to_a_task_that_does_not_exist_are_refused() {
        test()
            .given_no_previous_events()
            .when(TaskCommand::Rename { title: title("x") })
            .then_expect_error(TaskError::NotFound);
    }

    #[test]
    fn renaming_and_status_changes_record_only_real_changes() {
        let g = given();
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Rename {
                title: title("Ship the new catalogue"),
            })
            .then_expect_events(vec![TaskEvent::TaskRenamed {
                title: "Ship the new catalogue".into(),
            }]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Rename {
                title: title("Ship the catalogue"),
            })
            .then_expect_events(vec![]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::ChangeStatus {
                status: TaskStatus::InProgress,
            })
            .then_expect_events(vec![TaskEvent::TaskStatusChanged {
                status: TaskStatus::InProgress,
            }]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::ChangeStatus {
                status: TaskStatus::New,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_new_responsible_person_replaces_the_previous_one() {
        let g = given();
        let (ann, bob) = (PersonId::new_random(), PersonId::new_random());
        test()
            .given(vec![
                created(&g),
                TaskEvent::PersonAssigned {
                    person: ann,
                    role: TaskRole::Responsible,
                    replaces: None,
                },
            ])
            .when(TaskCommand::Assign {
                person: bob,
                role: TaskRole::Responsible,
            })
            .then_expect_events(vec![TaskEvent::PersonAssigned {
                person: bob,
                role: TaskRole::Responsible,
                replaces: Some(ann),
            }]);
    }

    #[test]
    fn assigning_the_same_role_again_changes_nothing() {
        let g = given();
        let ann = PersonId::new_random();
        let assigned = TaskEvent::PersonAssigned {
            person: ann,
            role: TaskRole::Observer,
            replaces: None,
        };
        test()
            .given(vec![created(&g), assigned])
            .when(TaskCommand::Assign {
                person: ann,
                role: TaskRole::Observer,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_creator_cannot_take_another_role() {
        let g = given();
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Assign {
                person: g.creator,
                role: TaskRole::Observer,
            })
            .then_expect_error(TaskError::CreatorHasRole);
    }

    #[test]
    fn a_task_may_start_in_a_workgroup_with_a_deadline() {
        let g = given();
        let group = crate::WorkgroupId::new_random();
        test()
            .given_no_previous_events()
            .when(TaskCommand::Create {
                task: g.task,
                title: title("Group task"),
                description: description(""),
                creator: g.creator,
                workgroup: Some(group),
                deadline: Some(Timestamp(5)),
            })
            .then_expect_events(vec![TaskEvent::TaskCreated {
                task: g.task,
                title: "Group task".into(),
                description: String::new(),
                creator: g.creator,
                workgroup: Some(group),
                deadline: Some(Timestamp(5)),
            }]);
    }

    #[test]
    fn a_version_1_task_created_event_still_reads() {
        let v1 = serde_json::json!({"TaskCreated": {
            "task": uuid::Uuid::new_v4(), "title": "Old", "description": "",
            "creator": uuid::Uuid::new_v4()}});
        let event: TaskEvent = serde_json::from_value(v1).unwrap();
        assert!(matches!(
            event,
            TaskEvent::TaskCreated {
                workgroup: None,
                deadline: None,
                ..
            }
        ));
    }

    #[test]
    fn description_and_deadline_change_only_when_different() {
        let g = given();
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::ChangeDescription {
                description: description("Print run of 800"),
            })
            .then_expect_events(vec![TaskEvent::TaskDescriptionChanged {
                description: "Print run of 800".into(),
            }]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::ChangeDescription {
                description: description("Print run of 500"),
            })
            .then_expect_events(vec![]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::SetDeadline {
                deadline: Some(Timestamp(99)),
            })
            .then_expect_events(vec![TaskEvent::TaskDeadlineChanged {
                deadline: Some(Timestamp(99)),
            }]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::SetDeadline { deadline: None })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_person_can_be_taken_off_a_task() {
        let g = given();
        let ann = PersonId::new_random();
        let assigned = TaskEvent::PersonAssigned {
            person: ann,
            role: TaskRole::Participant,
            replaces: None,
        };
        test()
            .given(vec![created(&g), assigned])
            .when(TaskCommand::Unassign { person: ann })
            .then_expect_events(vec![TaskEvent::PersonUnassigned { person: ann }]);
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Unassign { person: ann })
            .then_expect_error(TaskError::NotOnTask);
    }

    #[test]
    fn a_comment_is_recorded_trimmed() {
        let g = given();
        let comment = CommentId::new_random();
        let author = PersonId::new_random();
        test()
            .given(vec![created(&g)])
            .when(TaskCommand::Comment {
                comment,
                author,
                text: CommentText::parse(" Proofs attached. ").unwrap(),
            })
            .then_expect_events(vec![TaskEvent::CommentAdded {
                comment,
                author,
                text: "Proofs attached.".into(),
            }]);
    }
}
