//! A seeded generator of HR data as it really is: a company with umlauts,
//! long titles, externals, a management tree — and, spoiled on purpose,
//! every class of identity problem a real HR export has: colleagues
//! sharing a mailbox, rehires under a new personnel number, missing, empty
//! and invalid e-mails, e-mails in odd case with stray spaces, supervisors
//! that do not exist or form a cycle, and e-mails that change. Tests and
//! `hrsync-lab bench sync` feed it to the Personio emulator; the ledger says
//! which employee has which problem, so that tests can check what a run
//! must do with each.

use std::collections::{BTreeMap, HashSet};

use super::personio::HrEmployee;

/// A class of data problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Problem {
    /// Two or three active employees with one e-mail.
    SharedEmail,
    /// An inactive old record and an active new one, with one e-mail.
    Rehire,
    MissingEmail,
    EmptyEmail,
    /// No @, spaces, no domain.
    InvalidEmail,
    /// Valid and unique, but in odd case with stray spaces.
    OddEmail,
    /// The supervisor's id is nobody's.
    UnknownSupervisor,
    /// Supervisors in a circle (A → B → A, or three).
    SupervisorCycle,
    /// The e-mail changes later ([`Dirt::email_changes`]).
    ChangedEmail,
}

pub const PROBLEMS: [Problem; 9] = [
    Problem::SharedEmail,
    Problem::Rehire,
    Problem::MissingEmail,
    Problem::EmptyEmail,
    Problem::InvalidEmail,
    Problem::OddEmail,
    Problem::UnknownSupervisor,
    Problem::SupervisorCycle,
    Problem::ChangedEmail,
];

/// What [`spoil`] did, by employee.
#[derive(Debug, Clone, Default)]
pub struct Dirt {
    /// The employees of each class (a rehire's old and new record both).
    pub problems: BTreeMap<Problem, Vec<u64>>,
    /// Groups of active employees sharing one e-mail.
    pub shared: Vec<Vec<u64>>,
    /// (old record, new record).
    pub rehires: Vec<(u64, u64)>,
    pub cycles: Vec<Vec<u64>>,
    /// New e-mails for [`Problem::ChangedEmail`], to apply after a first sync.
    pub email_changes: Vec<(u64, String)>,
}

impl Dirt {
    pub fn of(&self, problem: Problem) -> &[u64] {
        self.problems.get(&problem).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Employees with any problem.
    pub fn all(&self) -> HashSet<u64> {
        self.problems.values().flatten().copied().collect()
    }
}

const FIRST: &[&str] = &[
    "Anna",
    "Jürgen",
    "Zoë",
    "Łukasz",
    "Sofia",
    "Luca",
    "Mehmet",
    "Ingrid",
    "Noah",
    "Chloé",
    "Björn",
    "Amélie",
    "Jonas",
    "Kateřina",
    "Peter",
    "Maria",
    "Ömer",
    "Lea",
    "Tim",
    "Élodie",
];
const LAST: &[&str] = &[
    "Müller", "Schmidt", "Weiß", "Rossi", "García", "Nowak", "Yılmaz", "Dubois", "Becker", "Hoffmann", "Schäfer",
    "Kovač", "Ferrari", "López", "Wagner", "Öztürk", "Larsen", "Novák", "Fischer", "Wright",
];
pub const DEPARTMENTS: &[&str] = &[
    "IT",
    "Vertrieb",
    "Marketing",
    "Finanzen",
    "Personal",
    "Einkauf",
    "Logistik",
    "Recht",
    "Forschung",
    "Kundendienst",
];

/// `Jürgen` → `jurgen`: the local part an HR system would give.
fn ascii(name: &str) -> String {
    name.chars()
        .flat_map(|c| match c {
            'ä' | 'Ä' => "ae".chars().collect::<Vec<_>>(),
            'ö' | 'Ö' => "oe".chars().collect(),
            'ü' | 'Ü' => "ue".chars().collect(),
            'ß' => "ss".chars().collect(),
            'é' | 'è' | 'ë' | 'É' => vec!['e'],
            'ł' | 'Ł' => vec!['l'],
            'ı' => vec!['i'],
            'ç' => vec!['c'],
            'č' => vec!['c'],
            'ř' => vec!['r'],
            'á' => vec!['a'],
            'ó' => vec!['o'],
            'ğ' => vec!['g'],
            c => c.to_lowercase().collect(),
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// A clean company of `size` employees (ids 1..=size): unique e-mails,
/// ten departments, a management tree under employee 1, 5% externals, some
/// onboarding, on leave or gone, a few 500-character titles.
pub fn clean_company(size: usize, seed: u64) -> Vec<HrEmployee> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut taken: HashSet<String> = HashSet::new();
    (1..=size as u64)
        .map(|id| {
            let first = FIRST[rng.usize(..FIRST.len())];
            let last = LAST[rng.usize(..LAST.len())];
            let department = DEPARTMENTS[rng.usize(..DEPARTMENTS.len())];
            let mut e = HrEmployee::new(id, first, last, department);
            let base = format!("{}.{}", ascii(first), ascii(last));
            let mut local = base.clone();
            let mut n = 1;
            while !taken.insert(local.clone()) {
                n += 1;
                local = format!("{base}{n}");
            }
            e.email = Some(format!("{local}@example.com"));
            // A tree of eight reports each under employee 1.
            e.supervisor_id = (id > 1).then_some((id / 8).max(1));
            e.employment_type = if rng.u8(..100) < 5 { "external" } else { "internal" }.into();
            e.status = match rng.u8(..100) {
                0 => "onboarding",
                1 => "leave",
                2 => "inactive",
                _ => "active",
            }
            .into();
            e.position = Some(if rng.u16(..1000) == 0 {
                "Senior Principal Staff Engineer for Platform Reliability, ".repeat(9)
            } else {
                ["Specialist", "Teamleiter", "Entwicklerin", "Sachbearbeiter"][rng.usize(..4)].to_string()
            });
            e.office = Some(["Berlin", "München", "Madrid", "Milano"][rng.usize(..4)].into());
            e.last_modified_ms -= 3_600_000;
            e
        })
        .collect()
}

/// Spoils `employees` (as made by [`clean_company`]): `share` of them (at
/// least one) in every class of [`Problem`], each employee in at most one
/// class; rehires add their new records after the last id. Employee 1 (the
/// head of the tree) stays clean.
pub fn spoil(employees: &mut Vec<HrEmployee>, share: f64, seed: u64) -> Dirt {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let per_class = ((employees.len() as f64 * share).ceil() as usize).max(2);
    // Active employees only: what the classes do is about accounts.
    let mut pool: Vec<usize> = (0..employees.len())
        .filter(|&i| {
            employees[i].id != 1 && employees[i].status == "active" && employees[i].employment_type == "internal"
        })
        .collect();
    rng.shuffle(&mut pool);
    let mut take = |n: usize| -> Vec<usize> { pool.split_off(pool.len().saturating_sub(n)) };
    let mut dirt = Dirt::default();
    let mut next_id = employees.iter().map(|e| e.id).max().unwrap_or(0) + 1;

    // Colleagues sharing a mailbox: pairs and triples, one e-mail each,
    // the sharers' spelling in another case now and then.
    let sharers = take(per_class);
    let mut groups = Vec::new();
    let mut at = 0;
    while at < sharers.len() {
        let size = if groups.len() % 2 == 0 { 2 } else { 3 }.min(sharers.len() - at);
        if size < 2 {
            // One left over: joins the last group.
            if let Some(last) = groups.last_mut() {
                let last: &mut Vec<usize> = last;
                last.push(sharers[at]);
            }
            break;
        }
        groups.push(sharers[at..at + size].to_vec());
        at += size;
    }
    for group in &groups {
        let email = employees[group[0]].email.clone().unwrap_or_default();
        for (n, &i) in group.iter().enumerate().skip(1) {
            employees[i].email = Some(if n == 2 { email.to_uppercase() } else { email.clone() });
        }
        dirt.shared.push(group.iter().map(|&i| employees[i].id).collect());
    }

    // Rehires: the old record left, a new record (new HR id) came back
    // with the same e-mail.
    for i in take(per_class.div_ceil(2)) {
        let mut new = employees[i].clone();
        employees[i].status = "inactive".into();
        employees[i].termination_date = Some("2024-06-30".into());
        new.id = next_id;
        next_id += 1;
        new.hire_date = Some("2026-01-01".into());
        dirt.rehires.push((employees[i].id, new.id));
        employees.push(new);
    }

    for i in take(per_class) {
        employees[i].email = None;
        dirt.note(Problem::MissingEmail, employees[i].id);
    }
    for i in take(per_class) {
        employees[i].email = Some(String::new());
        dirt.note(Problem::EmptyEmail, employees[i].id);
    }
    for (n, i) in take(per_class).into_iter().enumerate() {
        let email = employees[i].email.clone().unwrap_or_default();
        let (local, _) = email.split_once('@').unwrap_or((&email, ""));
        employees[i].email = Some(match n % 4 {
            0 => format!("{local}(at)example.com"),
            1 => format!("{} {}@example.com", local, employees[i].id),
            2 => format!("{local}@"),
            _ => format!("{local}@example"),
        });
        dirt.note(Problem::InvalidEmail, employees[i].id);
    }
    for i in take(per_class) {
        let email = employees[i].email.clone().unwrap_or_default();
        let odd: String = email
            .chars()
            .enumerate()
            .map(|(n, c)| if n % 2 == 0 { c.to_ascii_uppercase() } else { c })
            .collect();
        employees[i].email = Some(format!("  {odd} "));
        dirt.note(Problem::OddEmail, employees[i].id);
    }
    for i in take(per_class) {
        employees[i].supervisor_id = Some(900_000 + employees[i].id);
        dirt.note(Problem::UnknownSupervisor, employees[i].id);
    }
    let cyclers = take(per_class);
    for chunk in cyclers.chunks(3).filter(|c| c.len() >= 2) {
        for (n, &i) in chunk.iter().enumerate() {
            let boss = chunk[(n + 1) % chunk.len()];
            employees[i].supervisor_id = Some(employees[boss].id);
        }
        dirt.cycles.push(chunk.iter().map(|&i| employees[i].id).collect());
    }
    // Employees who report to a cycle member are left alone: a cycle is
    // about its members.
    for i in take(per_class) {
        let email = employees[i].email.clone().unwrap_or_default();
        let (local, domain) = email.split_once('@').unwrap_or((&email, "example.com"));
        dirt.email_changes
            .push((employees[i].id, format!("{local}.new@{domain}")));
        dirt.note(Problem::ChangedEmail, employees[i].id);
    }
    let shared: Vec<u64> = dirt.shared.iter().flatten().copied().collect();
    dirt.problems.insert(Problem::SharedEmail, shared);
    let rehired: Vec<u64> = dirt.rehires.iter().flat_map(|(old, new)| [*old, *new]).collect();
    dirt.problems.insert(Problem::Rehire, rehired);
    let cycled: Vec<u64> = dirt.cycles.iter().flatten().copied().collect();
    dirt.problems.insert(Problem::SupervisorCycle, cycled);
    dirt
}

impl Dirt {
    fn note(&mut self, problem: Problem, id: u64) {
        self.problems.entry(problem).or_default().push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_gets_its_share_and_the_same_seed_the_same_data() {
        let mut employees = clean_company(5000, 7);
        let emails: HashSet<String> = employees
            .iter()
            .filter_map(|e| e.email.as_deref().map(str::to_lowercase))
            .collect();
        assert_eq!(emails.len(), 5000, "a clean company has unique e-mails");
        let dirt = spoil(&mut employees, 0.03, 7);
        for problem in PROBLEMS {
            assert!(dirt.of(problem).len() >= 150, "{problem:?}: {}", dirt.of(problem).len());
        }
        assert!(dirt.shared.iter().any(|g| g.len() == 3) && dirt.shared.iter().all(|g| g.len() >= 2));
        assert_eq!(employees.len(), 5000 + dirt.rehires.len());
        let again = {
            let mut employees = clean_company(5000, 7);
            spoil(&mut employees, 0.03, 7);
            employees
        };
        assert!(again
            .iter()
            .zip(&employees)
            .all(|(a, b)| a.email == b.email && a.supervisor_id == b.supervisor_id));
    }
}
