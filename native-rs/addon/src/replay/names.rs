//! A generated container name (src/containers/generated-name.ts, whose
//! lists these are): an adjective and a surname joined by `_`.
//! Contract: test/fixtures/contract/generated-names.json.

const ADJECTIVES: [&str; 66] = [
    "agile", "amazing", "awesome", "blissful", "bold", "brave", "busy", "calm", "careful", "charming", "cheerful",
    "clever", "cool", "curious", "dazzling", "determined", "eager", "elastic", "elegant", "epic", "fearless",
    "festive", "focused", "friendly", "gallant", "gentle", "gracious", "happy", "hopeful", "humble", "inspiring",
    "jolly", "keen", "kind", "laughing", "lucid", "magical", "modest", "nice", "nimble", "optimistic", "patient",
    "peaceful", "pensive", "practical", "quick", "quiet", "relaxed", "serene", "sharp", "silly", "sleepy", "steady",
    "stoic", "sweet", "tender", "thirsty", "trusting", "upbeat", "vibrant", "vigilant", "wizardly", "wonderful",
    "youthful", "zealous", "zen",
];

const SURNAMES: [&str; 68] = [
    "babbage", "backus", "bardeen", "bartik", "berners_lee", "boole", "borg", "cerf", "chandrasekhar", "church",
    "codd", "conway", "curie", "dijkstra", "easley", "engelbart", "euler", "faraday", "feynman", "floyd", "gauss",
    "goldberg", "goodall", "hamilton", "hawking", "hodgkin", "hollerith", "hopper", "hypatia", "johnson", "kahan",
    "kay", "keller", "knuth", "lamarr", "lamport", "liskov", "lovelace", "mccarthy", "meitner", "minsky",
    "montalcini", "moore", "neumann", "newton", "noether", "pascal", "perlman", "pike", "ramanujan", "ritchie",
    "shannon", "shaw", "sinoussi", "stallman", "sutherland", "swartz", "tesla", "thompson", "torvalds", "turing",
    "wescoff", "wilson", "wing", "wirth", "wozniak", "yalow", "yonath",
];

/// `generatedName()` (a first attempt: no numeric suffix), from two random numbers.
pub fn generated(random: [u16; 2]) -> String {
    format!("{}_{}", ADJECTIVES[usize::from(random[0]) % ADJECTIVES.len()], SURNAMES[usize::from(random[1]) % SURNAMES.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use container::json;

    #[test]
    fn contract_generated_names() {
        let lists = json::parse(include_str!("../../../../test/fixtures/contract/generated-names.json")).unwrap();
        let words = |key: &str| -> Vec<String> { lists.get(key).unwrap().as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect() };
        assert_eq!(words("adjectives"), ADJECTIVES.to_vec());
        assert_eq!(words("surnames"), SURNAMES.to_vec());
        assert_eq!(generated([0, 0]), "agile_babbage");
    }
}
