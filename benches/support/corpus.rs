//! A synthetic but realistic news corpus and watch population for the matching benchmark.
//!
//! Everything here is generated from the word lists and templates below with a fixed seed, so
//! the benchmark needs no file outside the repository and every run sees the same articles and
//! watches. The text is written for this benchmark (no third-party corpus, nothing to license).
//!
//! * Articles: English and Russian news-like items (title + summary, 100–150 words) about a few
//!   entities each — people, countries, cities, organisations, topics — named the way news does
//!   it: full name first, surname later, Russian names and nouns in the case the sentence needs
//!   ("в Пхеньяне", "с Сергеем Лавровым"), numbers, dates, money. Each article also mentions a
//!   few "long-tail" entities (people, companies, towns) drawn from a pool of ~2,500 generated
//!   names, so most of what watches ask for is rare, as in real monitoring.
//! * Watches: the shapes analysts write (`a AND b`, `"phrase" AND (x OR y)`, `@list AND term`,
//!   `prefix* NEAR/5 term`, `title:(x) -y`, `site:host term`, bilingual OR-groups), over the
//!   topical vocabulary (the entities of the news) with probability [`HOT_SHARE`] per term and
//!   the long-tail pool otherwise. Watch `i` is the same in every population, so the 100-watch
//!   set is a prefix of the 1,000-watch set, and so on.
//!
//! Included with `#[path]` by `benches/matching.rs` and the examples `gen_bench_corpus` and
//! `match_stats`, which each use part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// Share of watch terms taken from the topical vocabulary (the rest: the long-tail pool).
pub const HOT_SHARE: f64 = 0.1;
/// Seed of the article generator.
pub const ARTICLE_SEED: u64 = 0x6e65_7773;
/// Seed of the watch generator.
pub const WATCH_SEED: u64 = 0x7761_7463;
/// Number of generated `[lists]` (besides those of `config.toml`).
pub const GENERATED_LISTS: usize = 120;

// ---------------------------------------------------------------------------------------------
// Vocabulary

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }
}

/// Russian case forms: nominative, genitive, dative, accusative, instrumental, prepositional.
#[derive(Debug, Clone)]
pub struct Forms(pub [String; 6]);

impl Forms {
    /// `"nom|gen|dat|acc|ins|pre"`, or one form for an indeclinable word.
    fn parse(text: &str) -> Forms {
        let parts: Vec<&str> = text.split('|').collect();
        Forms(std::array::from_fn(|i| {
            parts.get(i).unwrap_or(&parts[0]).to_string()
        }))
    }

    fn from_fn(f: impl Fn(usize) -> String) -> Forms {
        Forms(std::array::from_fn(f))
    }

    pub fn nom(&self) -> &str {
        &self.0[0]
    }

    fn case(&self, key: char) -> &str {
        let index = match key {
            'g' => 1,
            'd' => 2,
            'a' => 3,
            'i' => 4,
            'p' => 5,
            _ => 0,
        };
        &self.0[index]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Person,
    Country,
    City,
    Org,
    Topic,
}

/// An entity of the news, in both languages.
#[derive(Debug, Clone)]
pub struct Concept {
    pub kind: Kind,
    /// English: full name / singular.
    pub en: String,
    /// English: surname / plural.
    pub en_short: String,
    pub ru: Forms,
    /// Russian surname (or the whole name) in its case forms.
    pub ru_short: Forms,
    pub feminine: bool,
}

const PERSONS: &[(&str, &str, &str, bool)] = &[
    (
        "Vladimir Putin",
        "Putin",
        "Владимир Путин|Владимира Путина|Владимиру Путину|Владимира Путина|Владимиром Путиным|Владимире Путине",
        false,
    ),
    (
        "Sergei Lavrov",
        "Lavrov",
        "Сергей Лавров|Сергея Лаврова|Сергею Лаврову|Сергея Лаврова|Сергеем Лавровым|Сергее Лаврове",
        false,
    ),
    (
        "Kim Jong Un",
        "Kim",
        "Ким Чен Ын|Ким Чен Ына|Ким Чен Ыну|Ким Чен Ына|Ким Чен Ыном|Ким Чен Ыне",
        false,
    ),
    ("Kim Yo Jong", "Kim Yo Jong", "Ким Ё Чжон", true),
    ("Choe Son Hui", "Choe", "Цой Сон Хи", true),
    (
        "Xi Jinping",
        "Xi",
        "Си Цзиньпин|Си Цзиньпина|Си Цзиньпину|Си Цзиньпина|Си Цзиньпином|Си Цзиньпине",
        false,
    ),
    (
        "Andrei Belousov",
        "Belousov",
        "Андрей Белоусов|Андрея Белоусова|Андрею Белоусову|Андрея Белоусова|Андреем Белоусовым|Андрее Белоусове",
        false,
    ),
    (
        "Sergei Shoigu",
        "Shoigu",
        "Сергей Шойгу|Сергея Шойгу|Сергею Шойгу|Сергея Шойгу|Сергеем Шойгу|Сергее Шойгу",
        false,
    ),
    (
        "Elvira Nabiullina",
        "Nabiullina",
        "Эльвира Набиуллина|Эльвиры Набиуллиной|Эльвире Набиуллиной|Эльвиру Набиуллину|Эльвирой Набиуллиной|Эльвире Набиуллиной",
        true,
    ),
    (
        "Maria Zakharova",
        "Zakharova",
        "Мария Захарова|Марии Захаровой|Марии Захаровой|Марию Захарову|Марией Захаровой|Марии Захаровой",
        true,
    ),
    (
        "Dmitry Peskov",
        "Peskov",
        "Дмитрий Песков|Дмитрия Пескова|Дмитрию Пескову|Дмитрия Пескова|Дмитрием Песковым|Дмитрии Пескове",
        false,
    ),
    (
        "Mikhail Mishustin",
        "Mishustin",
        "Михаил Мишустин|Михаила Мишустина|Михаилу Мишустину|Михаила Мишустина|Михаилом Мишустиным|Михаиле Мишустине",
        false,
    ),
    ("Antonio Guterres", "Guterres", "Антониу Гутерриш", false),
    (
        "Alexander Lukashenko",
        "Lukashenko",
        "Александр Лукашенко|Александра Лукашенко|Александру Лукашенко|Александра Лукашенко|Александром Лукашенко|Александре Лукашенко",
        false,
    ),
    (
        "Anton Siluanov",
        "Siluanov",
        "Антон Силуанов|Антона Силуанова|Антону Силуанову|Антона Силуанова|Антоном Силуановым|Антоне Силуанове",
        false,
    ),
    (
        "Sergei Sobyanin",
        "Sobyanin",
        "Сергей Собянин|Сергея Собянина|Сергею Собянину|Сергея Собянина|Сергеем Собяниным|Сергее Собянине",
        false,
    ),
    (
        "Recep Tayyip Erdogan",
        "Erdogan",
        "Реджеп Эрдоган|Реджепа Эрдогана|Реджепу Эрдогану|Реджепа Эрдогана|Реджепом Эрдоганом|Реджепе Эрдогане",
        false,
    ),
    ("Narendra Modi", "Modi", "Нарендра Моди", false),
    (
        "Donald Trump",
        "Trump",
        "Дональд Трамп|Дональда Трампа|Дональду Трампу|Дональда Трампа|Дональдом Трампом|Дональде Трампе",
        false,
    ),
    (
        "Emmanuel Macron",
        "Macron",
        "Эммануэль Макрон|Эммануэля Макрона|Эммануэлю Макрону|Эммануэля Макрона|Эммануэлем Макроном|Эммануэле Макроне",
        false,
    ),
    (
        "Ursula von der Leyen",
        "von der Leyen",
        "Урсула фон дер Ляйен|Урсулы фон дер Ляйен|Урсуле фон дер Ляйен|Урсулу фон дер Ляйен|Урсулой фон дер Ляйен|Урсуле фон дер Ляйен",
        true,
    ),
    (
        "Volodymyr Zelensky",
        "Zelensky",
        "Владимир Зеленский|Владимира Зеленского|Владимиру Зеленскому|Владимира Зеленского|Владимиром Зеленским|Владимире Зеленском",
        false,
    ),
    ("Yoon Suk Yeol", "Yoon", "Юн Сок Ёль", false),
    (
        "Alexei Overchuk",
        "Overchuk",
        "Алексей Оверчук|Алексея Оверчука|Алексею Оверчуку|Алексея Оверчука|Алексеем Оверчуком|Алексее Оверчуке",
        false,
    ),
    (
        "Olga Lyubimova",
        "Lyubimova",
        "Ольга Любимова|Ольги Любимовой|Ольге Любимовой|Ольгу Любимову|Ольгой Любимовой|Ольге Любимовой",
        true,
    ),
];

const COUNTRIES: &[(&str, &str)] = &[
    ("Russia", "Россия|России|России|Россию|Россией|России"),
    (
        "North Korea",
        "Северная Корея|Северной Кореи|Северной Корее|Северную Корею|Северной Кореей|Северной Корее",
    ),
    ("China", "Китай|Китая|Китаю|Китай|Китаем|Китае"),
    ("the United States", "США"),
    (
        "South Korea",
        "Южная Корея|Южной Кореи|Южной Корее|Южную Корею|Южной Кореей|Южной Корее",
    ),
    ("Japan", "Япония|Японии|Японии|Японию|Японией|Японии"),
    ("India", "Индия|Индии|Индии|Индию|Индией|Индии"),
    ("Turkey", "Турция|Турции|Турции|Турцию|Турцией|Турции"),
    ("Iran", "Иран|Ирана|Ирану|Иран|Ираном|Иране"),
    (
        "Ukraine",
        "Украина|Украины|Украине|Украину|Украиной|Украине",
    ),
    (
        "Belarus",
        "Белоруссия|Белоруссии|Белоруссии|Белоруссию|Белоруссией|Белоруссии",
    ),
    (
        "Germany",
        "Германия|Германии|Германии|Германию|Германией|Германии",
    ),
    ("France", "Франция|Франции|Франции|Францию|Францией|Франции"),
    (
        "Kazakhstan",
        "Казахстан|Казахстана|Казахстану|Казахстан|Казахстаном|Казахстане",
    ),
    (
        "Mongolia",
        "Монголия|Монголии|Монголии|Монголию|Монголией|Монголии",
    ),
    (
        "Vietnam",
        "Вьетнам|Вьетнама|Вьетнаму|Вьетнам|Вьетнамом|Вьетнаме",
    ),
    ("Egypt", "Египет|Египта|Египту|Египет|Египтом|Египте"),
    (
        "Brazil",
        "Бразилия|Бразилии|Бразилии|Бразилию|Бразилией|Бразилии",
    ),
    ("Syria", "Сирия|Сирии|Сирии|Сирию|Сирией|Сирии"),
    ("Israel", "Израиль|Израиля|Израилю|Израиль|Израилем|Израиле"),
    (
        "Finland",
        "Финляндия|Финляндии|Финляндии|Финляндию|Финляндией|Финляндии",
    ),
    (
        "Armenia",
        "Армения|Армении|Армении|Армению|Арменией|Армении",
    ),
];

const CITIES: &[(&str, &str)] = &[
    ("Moscow", "Москва|Москвы|Москве|Москву|Москвой|Москве"),
    (
        "Pyongyang",
        "Пхеньян|Пхеньяна|Пхеньяну|Пхеньян|Пхеньяном|Пхеньяне",
    ),
    (
        "Vladivostok",
        "Владивосток|Владивостока|Владивостоку|Владивосток|Владивостоком|Владивостоке",
    ),
    ("Beijing", "Пекин|Пекина|Пекину|Пекин|Пекином|Пекине"),
    ("Seoul", "Сеул|Сеула|Сеулу|Сеул|Сеулом|Сеуле"),
    ("Tokyo", "Токио"),
    (
        "Washington",
        "Вашингтон|Вашингтона|Вашингтону|Вашингтон|Вашингтоном|Вашингтоне",
    ),
    ("Berlin", "Берлин|Берлина|Берлину|Берлин|Берлином|Берлине"),
    ("Minsk", "Минск|Минска|Минску|Минск|Минском|Минске"),
    ("Kursk", "Курск|Курска|Курску|Курск|Курском|Курске"),
    (
        "St Petersburg",
        "Петербург|Петербурга|Петербургу|Петербург|Петербургом|Петербурге",
    ),
    (
        "Novosibirsk",
        "Новосибирск|Новосибирска|Новосибирску|Новосибирск|Новосибирском|Новосибирске",
    ),
    ("Kazan", "Казань|Казани|Казани|Казань|Казанью|Казани"),
    (
        "Yekaterinburg",
        "Екатеринбург|Екатеринбурга|Екатеринбургу|Екатеринбург|Екатеринбургом|Екатеринбурге",
    ),
    ("Ankara", "Анкара|Анкары|Анкаре|Анкару|Анкарой|Анкаре"),
    (
        "Tehran",
        "Тегеран|Тегерана|Тегерану|Тегеран|Тегераном|Тегеране",
    ),
    ("Kyiv", "Киев|Киева|Киеву|Киев|Киевом|Киеве"),
    ("Geneva", "Женева|Женевы|Женеве|Женеву|Женевой|Женеве"),
    ("Astana", "Астана|Астаны|Астане|Астану|Астаной|Астане"),
    (
        "Khabarovsk",
        "Хабаровск|Хабаровска|Хабаровску|Хабаровск|Хабаровском|Хабаровске",
    ),
    ("Rason", "Расон"),
    (
        "Murmansk",
        "Мурманск|Мурманска|Мурманску|Мурманск|Мурманском|Мурманске",
    ),
];

const ORGS: &[(&str, &str)] = &[
    ("the United Nations", "ООН"),
    ("NATO", "НАТО"),
    (
        "the European Union",
        "Евросоюз|Евросоюза|Евросоюзу|Евросоюз|Евросоюзом|Евросоюзе",
    ),
    ("the IAEA", "МАГАТЭ"),
    (
        "Gazprom",
        "Газпром|Газпрома|Газпрому|Газпром|Газпромом|Газпроме",
    ),
    (
        "Rosneft",
        "Роснефть|Роснефти|Роснефти|Роснефть|Роснефтью|Роснефти",
    ),
    (
        "the central bank",
        "Центробанк|Центробанка|Центробанку|Центробанк|Центробанком|Центробанке",
    ),
    ("the defence ministry", "Минобороны"),
    ("the foreign ministry", "МИД"),
    (
        "the State Duma",
        "Госдума|Госдумы|Госдуме|Госдуму|Госдумой|Госдуме",
    ),
    (
        "Sberbank",
        "Сбербанк|Сбербанка|Сбербанку|Сбербанк|Сбербанком|Сбербанке",
    ),
    (
        "Rosatom",
        "Росатом|Росатома|Росатому|Росатом|Росатомом|Росатоме",
    ),
    (
        "Roscosmos",
        "Роскосмос|Роскосмоса|Роскосмосу|Роскосмос|Роскосмосом|Роскосмосе",
    ),
    ("the Kremlin", "Кремль|Кремля|Кремлю|Кремль|Кремлем|Кремле"),
    ("OPEC", "ОПЕК"),
    ("the WTO", "ВТО"),
    ("the SCO", "ШОС"),
    ("BRICS", "БРИКС"),
    ("Rostec", "Ростех|Ростеха|Ростеху|Ростех|Ростехом|Ростехе"),
    ("the FSB", "ФСБ"),
];

/// English singular, plural; Russian forms (a plural-only Russian noun stays plural).
const TOPICS: &[(&str, &str, &str)] = &[
    (
        "missile",
        "missiles",
        "ракета|ракеты|ракете|ракету|ракетой|ракете",
    ),
    (
        "sanction",
        "sanctions",
        "санкции|санкций|санкциям|санкции|санкциями|санкциях",
    ),
    (
        "talk",
        "talks",
        "переговоры|переговоров|переговорам|переговоры|переговорами|переговорах",
    ),
    (
        "summit",
        "summits",
        "саммит|саммита|саммиту|саммит|саммитом|саммите",
    ),
    (
        "visit",
        "visits",
        "визит|визита|визиту|визит|визитом|визите",
    ),
    (
        "agreement",
        "agreements",
        "соглашение|соглашения|соглашению|соглашение|соглашением|соглашении",
    ),
    (
        "exercise",
        "exercises",
        "учения|учений|учениям|учения|учениями|учениях",
    ),
    (
        "drone",
        "drones",
        "беспилотник|беспилотника|беспилотнику|беспилотник|беспилотником|беспилотнике",
    ),
    ("oil", "oil", "нефть|нефти|нефти|нефть|нефтью|нефти"),
    ("gas", "gas", "газ|газа|газу|газ|газом|газе"),
    (
        "election",
        "elections",
        "выборы|выборов|выборам|выборы|выборами|выборах",
    ),
    (
        "budget",
        "budgets",
        "бюджет|бюджета|бюджету|бюджет|бюджетом|бюджете",
    ),
    (
        "inflation",
        "inflation",
        "инфляция|инфляции|инфляции|инфляцию|инфляцией|инфляции",
    ),
    (
        "interest rate",
        "interest rates",
        "ставка|ставки|ставке|ставку|ставкой|ставке",
    ),
    (
        "export",
        "exports",
        "экспорт|экспорта|экспорту|экспорт|экспортом|экспорте",
    ),
    (
        "shipment",
        "shipments",
        "поставки|поставок|поставкам|поставки|поставками|поставках",
    ),
    (
        "treaty",
        "treaties",
        "договор|договора|договору|договор|договором|договоре",
    ),
    (
        "cooperation",
        "cooperation",
        "сотрудничество|сотрудничества|сотрудничеству|сотрудничество|сотрудничеством|сотрудничестве",
    ),
    (
        "satellite",
        "satellites",
        "спутник|спутника|спутнику|спутник|спутником|спутнике",
    ),
    (
        "weapon",
        "weapons",
        "оружие|оружия|оружию|оружие|оружием|оружии",
    ),
    (
        "ammunition",
        "ammunition",
        "боеприпасы|боеприпасов|боеприпасам|боеприпасы|боеприпасами|боеприпасах",
    ),
    ("court", "courts", "суд|суда|суду|суд|судом|суде"),
    ("law", "laws", "закон|закона|закону|закон|законом|законе"),
    (
        "tariff",
        "tariffs",
        "пошлины|пошлин|пошлинам|пошлины|пошлинами|пошлинах",
    ),
    (
        "loan",
        "loans",
        "кредит|кредита|кредиту|кредит|кредитом|кредите",
    ),
    ("rouble", "roubles", "рубль|рубля|рублю|рубль|рублем|рубле"),
    (
        "harvest",
        "harvests",
        "урожай|урожая|урожаю|урожай|урожаем|урожае",
    ),
    (
        "wheat",
        "wheat",
        "пшеница|пшеницы|пшенице|пшеницу|пшеницей|пшенице",
    ),
    (
        "earthquake",
        "earthquakes",
        "землетрясение|землетрясения|землетрясению|землетрясение|землетрясением|землетрясении",
    ),
    (
        "flood",
        "floods",
        "наводнение|наводнения|наводнению|наводнение|наводнением|наводнении",
    ),
    ("fire", "fires", "пожар|пожара|пожару|пожар|пожаром|пожаре"),
    (
        "accident",
        "accidents",
        "авария|аварии|аварии|аварию|аварией|аварии",
    ),
    (
        "strike",
        "strikes",
        "забастовка|забастовки|забастовке|забастовку|забастовкой|забастовке",
    ),
    (
        "reform",
        "reforms",
        "реформа|реформы|реформе|реформу|реформой|реформе",
    ),
    (
        "cyberattack",
        "cyberattacks",
        "кибератака|кибератаки|кибератаке|кибератаку|кибератакой|кибератаке",
    ),
    (
        "border",
        "borders",
        "граница|границы|границе|границу|границей|границе",
    ),
    ("port", "ports", "порт|порта|порту|порт|портом|порту"),
    (
        "tanker",
        "tankers",
        "танкер|танкера|танкеру|танкер|танкером|танкере",
    ),
    (
        "nuclear test",
        "nuclear tests",
        "ядерное испытание|ядерного испытания|ядерному испытанию|ядерное испытание|ядерным испытанием|ядерном испытании",
    ),
    (
        "railway",
        "railways",
        "железная дорога|железной дороги|железной дороге|железную дорогу|железной дорогой|железной дороге",
    ),
    (
        "delegation",
        "delegations",
        "делегация|делегации|делегации|делегацию|делегацией|делегации",
    ),
    (
        "artillery shell",
        "artillery shells",
        "снаряд|снаряда|снаряду|снаряд|снарядом|снаряде",
    ),
    (
        "tourism",
        "tourism",
        "туризм|туризма|туризму|туризм|туризмом|туризме",
    ),
    ("grain", "grain", "зерно|зерна|зерну|зерно|зерном|зерне"),
    ("coal", "coal", "уголь|угля|углю|уголь|углем|угле"),
    (
        "fertiliser",
        "fertilisers",
        "удобрения|удобрений|удобрениям|удобрения|удобрениями|удобрениях",
    ),
    (
        "pension",
        "pensions",
        "пенсия|пенсии|пенсии|пенсию|пенсией|пенсии",
    ),
    (
        "vaccine",
        "vaccines",
        "вакцина|вакцины|вакцине|вакцину|вакциной|вакцине",
    ),
    (
        "semiconductor",
        "semiconductors",
        "полупроводники|полупроводников|полупроводникам|полупроводники|полупроводниками|полупроводниках",
    ),
    ("bridge", "bridges", "мост|моста|мосту|мост|мостом|мосте"),
];

/// All topical concepts, in a fixed order.
pub fn concepts() -> Vec<Concept> {
    let mut out = Vec::new();
    for &(en, short, ru, feminine) in PERSONS {
        let ru = Forms::parse(ru);
        let ru_short = Forms::from_fn(|i| {
            let form = &ru.0[i];
            // The surname: everything after the given name (one word), or the whole name for
            // Korean and Indian names, which Russian news writes in full.
            match form.split_once(' ') {
                Some((_, rest)) if !rest.contains(' ') => rest.to_string(),
                _ => form.clone(),
            }
        });
        out.push(Concept {
            kind: Kind::Person,
            en: en.to_string(),
            en_short: short.to_string(),
            ru,
            ru_short,
            feminine,
        });
    }
    for (table, kind) in [
        (COUNTRIES, Kind::Country),
        (CITIES, Kind::City),
        (ORGS, Kind::Org),
    ] {
        for &(en, ru) in table {
            let ru = Forms::parse(ru);
            out.push(Concept {
                kind,
                en: en.to_string(),
                en_short: en.trim_start_matches("the ").to_string(),
                ru_short: ru.clone(),
                ru,
                feminine: false,
            });
        }
    }
    for &(sg, pl, ru) in TOPICS {
        let ru = Forms::parse(ru);
        out.push(Concept {
            kind: Kind::Topic,
            en: sg.to_string(),
            en_short: pl.to_string(),
            ru_short: ru.clone(),
            ru,
            feminine: false,
        });
    }
    out
}

/// A long-tail entity: a generated person, company or town, in one language.
#[derive(Debug, Clone)]
pub struct Rare {
    pub kind: RareKind,
    pub lang: Lang,
    /// Full name in case forms (English: all six the same).
    pub full: Forms,
    /// Surname / the name itself in case forms.
    pub short: Forms,
    pub feminine: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RareKind {
    Person,
    Company,
    Town,
}

const EN_GIVEN: &[&str] = &[
    "James", "Sarah", "Daniel", "Emma", "Thomas", "Laura", "Michael", "Anna", "David", "Helen",
    "Peter", "Julia", "Robert", "Claire", "Mark", "Olivia", "Simon", "Grace", "Andrew", "Rachel",
];
const EN_SUR_A: &[&str] = &[
    "Har", "Bren", "Cal", "Dun", "Ell", "Fair", "Gar", "Hol", "Ken", "Lin", "Mar", "Nor", "Ash",
    "Brad", "Cor", "Dal", "Fen", "Grim", "Hast", "Kirk", "Lang", "Mer", "Pem", "Rad", "Stan",
    "Thorn", "Wex", "Wil", "Yar", "Ald",
];
const EN_SUR_B: &[&str] = &[
    "low", "ner", "ford", "ton", "wick", "by", "more", "ley", "son", "ham", "well", "wood",
    "field", "ridge", "stead", "worth", "den", "croft", "lock", "bury",
];
const CO_A: &[&str] = &[
    "Nor", "Alta", "Vex", "Cor", "Zen", "Quan", "Tri", "Stel", "Ori", "Lum", "Hel", "Nex", "Pol",
    "Ver", "Axi", "Sol", "Terra", "Mar", "Kyn", "Opti",
];
const CO_B: &[&str] = &[
    "vex", "ris", "tek", "gen", "lane", "ion", "dyne", "core", "via", "nova", "sys", "tron", "lex",
    "ium", "forge",
];
const RU_CO_A: &[&str] = &[
    "Нор", "Аль", "Век", "Кор", "Зен", "Тех", "Трай", "Стел", "Ор", "Люм", "Гел", "Нек", "Пол",
    "Вер", "Акс", "Сол", "Тер", "Мар", "Кин", "Оп",
];
const RU_CO_B: &[&str] = &[
    "векс", "рис", "тек", "ген", "лайн", "ион", "дайн", "кор", "вия", "нова", "сис", "трон",
    "лекс", "иум", "форж",
];
const TOWN_A: &[&str] = &[
    "Ash", "Bel", "Cran", "Dor", "Elm", "Fox", "Glen", "Hay", "Iron", "Kings", "Lark", "Mill",
    "North", "Oak", "Pine", "Red", "Salt", "Stone", "West", "Wolf",
];
const TOWN_B: &[&str] = &[
    "haven", "field", "ford", "mouth", "port", "vale", "burgh", "wick", "cliff", "marsh",
];
const RU_GIVEN_M: &[&str] = &[
    "Иван|Ивана|Ивану|Ивана|Иваном|Иване",
    "Павел|Павла|Павлу|Павла|Павлом|Павле",
    "Олег|Олега|Олегу|Олега|Олегом|Олеге",
    "Игорь|Игоря|Игорю|Игоря|Игорем|Игоре",
    "Роман|Романа|Роману|Романа|Романом|Романе",
    "Денис|Дениса|Денису|Дениса|Денисом|Денисе",
    "Николай|Николая|Николаю|Николая|Николаем|Николае",
    "Артем|Артема|Артему|Артема|Артемом|Артеме",
    "Виктор|Виктора|Виктору|Виктора|Виктором|Викторе",
    "Максим|Максима|Максиму|Максима|Максимом|Максиме",
];
const RU_GIVEN_F: &[&str] = &[
    "Анна|Анны|Анне|Анну|Анной|Анне",
    "Елена|Елены|Елене|Елену|Еленой|Елене",
    "Ирина|Ирины|Ирине|Ирину|Ириной|Ирине",
    "Наталья|Натальи|Наталье|Наталью|Натальей|Наталье",
    "Татьяна|Татьяны|Татьяне|Татьяну|Татьяной|Татьяне",
    "Светлана|Светланы|Светлане|Светлану|Светланой|Светлане",
    "Дарья|Дарьи|Дарье|Дарью|Дарьей|Дарье",
    "Ксения|Ксении|Ксении|Ксению|Ксенией|Ксении",
];
const RU_SUR_A: &[&str] = &[
    "Бар", "Вел", "Гор", "Дан", "Жук", "Зар", "Кир", "Лам", "Мир", "Нор", "Пар", "Рад", "Сав",
    "Тар", "Фил", "Хар", "Чер", "Шал", "Бел", "Рус", "Мал", "Кот", "Лип", "Сем", "Дор",
];
const RU_SUR_B: &[&str] = &["ен", "ан", "ыш", "ит", "уш", "ад", "ом", "ел", "уб", "ик"];
const RU_TOWN_A: &[&str] = &[
    "Бел", "Вер", "Гор", "Дуб", "Зел", "Кам", "Лес", "Мох", "Нов", "Озер", "Пес", "Руч", "Сос",
    "Тал", "Ус", "Хол", "Чист", "Ясн", "Яр", "Свет",
];
const RU_TOWN_B: &[&str] = &[
    "огорск",
    "ореченск",
    "овск",
    "инск",
    "огорье",
    "оводск",
    "ославск",
    "омск",
];

fn same(text: String) -> Forms {
    Forms::from_fn(|_| text.clone())
}

/// Russian surname in `-ов`/`-ин` (or its feminine) from a stem, in case forms.
fn ru_surname(stem: &str, suffix: &str, feminine: bool) -> Forms {
    let endings: [&str; 6] = if feminine {
        ["а", "ой", "ой", "у", "ой", "ой"]
    } else {
        ["", "а", "у", "а", "ым", "е"]
    };
    Forms::from_fn(|i| format!("{stem}{suffix}{}", endings[i]))
}

/// The long-tail pool: about 2,500 generated people, companies and towns.
pub fn rare_pool() -> Vec<Rare> {
    let mut rng = fastrand::Rng::with_seed(0x7261_7265);
    let mut out = Vec::new();
    for a in EN_SUR_A {
        for b in EN_SUR_B {
            let surname = format!("{a}{b}");
            let given = EN_GIVEN[rng.usize(..EN_GIVEN.len())];
            out.push(Rare {
                kind: RareKind::Person,
                lang: Lang::En,
                full: same(format!("{given} {surname}")),
                short: same(surname),
                feminine: false,
            });
        }
    }
    for a in CO_A {
        for b in CO_B {
            let name = format!("{a}{b}");
            out.push(Rare {
                kind: RareKind::Company,
                lang: Lang::En,
                full: same(name.clone()),
                short: same(name),
                feminine: false,
            });
        }
    }
    for a in TOWN_A {
        for b in TOWN_B {
            let name = format!("{a}{b}");
            out.push(Rare {
                kind: RareKind::Town,
                lang: Lang::En,
                full: same(name.clone()),
                short: same(name),
                feminine: false,
            });
        }
    }
    for a in RU_SUR_A {
        for b in RU_SUR_B {
            let suffix = if rng.bool() { "ов" } else { "ин" };
            let feminine = rng.u32(0..3) == 0;
            let stem = format!("{a}{b}");
            let surname = ru_surname(&stem, suffix, feminine);
            let given = if feminine {
                Forms::parse(RU_GIVEN_F[rng.usize(..RU_GIVEN_F.len())])
            } else {
                Forms::parse(RU_GIVEN_M[rng.usize(..RU_GIVEN_M.len())])
            };
            out.push(Rare {
                kind: RareKind::Person,
                lang: Lang::Ru,
                full: Forms::from_fn(|i| format!("{} {}", given.0[i], surname.0[i])),
                short: surname,
                feminine,
            });
        }
    }
    for a in RU_CO_A {
        for b in RU_CO_B {
            let name = format!("{a}{b}");
            out.push(Rare {
                kind: RareKind::Company,
                lang: Lang::Ru,
                full: same(format!("«{name}»")),
                short: same(name),
                feminine: false,
            });
        }
    }
    for a in RU_TOWN_A {
        for b in RU_TOWN_B {
            let nom = format!("{a}{b}");
            let forms = if nom.ends_with("ье") {
                let stem = &nom[..nom.len() - "е".len()];
                Forms::from_fn(|i| format!("{stem}{}", ["е", "я", "ю", "е", "ем", "е"][i]))
            } else {
                Forms::from_fn(|i| format!("{nom}{}", ["", "а", "у", "", "ом", "е"][i]))
            };
            out.push(Rare {
                kind: RareKind::Town,
                lang: Lang::Ru,
                full: forms.clone(),
                short: forms,
                feminine: false,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Articles

/// One generated article, with what a feed would say about it.
#[derive(Debug, Clone)]
pub struct BenchArticle {
    pub id: usize,
    pub lang: Lang,
    pub title: String,
    pub summary: String,
    pub link: String,
    pub categories: Vec<String>,
    /// Name and tags of the feed it came through.
    pub feed_labels: Vec<String>,
    /// Index into [`FEEDS`].
    pub feed: usize,
}

/// The generated feeds: name, host, language, tags.
pub const FEEDS: &[(&str, &str, Lang, &[&str])] = &[
    ("Wire World", "news.example.org", Lang::En, &["en", "world"]),
    (
        "Daily Ledger",
        "www.ledger.example.com",
        Lang::En,
        &["en", "business"],
    ),
    ("Asia Desk", "asia.example.net", Lang::En, &["en", "korea"]),
    (
        "Eastern Review",
        "eastern.example.org",
        Lang::En,
        &["en", "russia"],
    ),
    (
        "Лента событий",
        "lenta.example.ru",
        Lang::Ru,
        &["ru", "russia"],
    ),
    (
        "Вестник Востока",
        "vostok.example.ru",
        Lang::Ru,
        &["ru", "world"],
    ),
    (
        "Деловой курьер",
        "kurier.example.ru",
        Lang::Ru,
        &["ru", "business"],
    ),
    (
        "Северная хроника",
        "sever.example.org",
        Lang::Ru,
        &["ru", "korea"],
    ),
];

const EN_CATEGORIES: &[&str] = &["World", "Politics", "Business", "Asia", "Europe", "Defence"];
const RU_CATEGORIES: &[&str] = &["Мир", "Политика", "Экономика", "Азия", "Общество", "Армия"];

const EN_TITLES: &[&str] = &[
    "{P.s} and {P2.s} discuss {T.pl} as {C} seeks closer ties with {C2}",
    "{C} says {T.pl} to {C2} will rise by #PCT this year",
    "{O} warns of new {T.pl} after talks in {Y} stall",
    "#NUM hurt as {T} hits {W} near {Y}",
    "{P.s} arrives in {Y} for {T} talks with {P2.s}",
    "{K} signs #MONEY deal on {T.pl} with {C}",
    "{C} and {C2} agree to expand {T} and {T2} cooperation",
    "{N.s} named to lead {O} review of {T.pl}",
    "Exclusive: {C} prepares {T.pl} for {C2}, sources say",
    "{Y} braces for {T} as {O} raises forecast",
];

const EN_SENTENCES: &[&str] = &[
    "{P} said on #DAY that {C} would increase {T.pl} to {C2} by #YEAR.",
    "{O} reported that #NUM {T.pl} were recorded near {Y} over the past week.",
    "Officials in {Y} declined to comment on the {T} agreement, which {N} of {K} described as \"a turning point\".",
    "The talks between {P.s} and {P2} lasted more than #NUM hours, according to a statement published after the meeting.",
    "Analysts say the move could push {T2} prices up by #PCT before the end of #YEAR.",
    "{C2} has repeatedly denied reports about {T.pl} and called them an attempt to damage its relations with {C}.",
    "According to {O}, the value of the contracts signed in {Y} exceeds #MONEY.",
    "{N} , a researcher at the {W} Institute, said the figures showed a clear shift in policy.",
    "Shares of {K} rose #PCT in early trading after the company confirmed the deal.",
    "The delegation is expected to travel on to {Y2} on #DAY, where {P2.s} will hold a separate meeting.",
    "Residents of {W} said they had seen military convoys on the main road for several days.",
    "{P.s} told reporters that {C} remained open to dialogue but would not accept new {T.pl}.",
    "The previous round of negotiations on {T2} ended without an agreement in #YEAR.",
    "{K} and {K2} have been supplying equipment to the project since #YEAR, the newspaper reported.",
    "Satellite images reviewed by {O} show new construction at a site north of {Y}.",
    "The ministry said it had sent #NUM specialists to {W} to assess the damage.",
    "{N2} , who advises the government on {T2}, said talks with {C2} were at an early stage.",
    "Under the agreement, {C} will also receive #NUM tonnes of {T2} every month.",
    "Critics of the plan, including {N}, argue that it leaves {C} dependent on {C2}.",
    "A spokesperson for {O} said the organisation was monitoring the situation closely.",
    "In a separate development, {K} said it would open an office in {Y2} next year.",
    "Prices for {T2} have fallen by #PCT since the start of the year, official data show.",
    "Both sides agreed to meet again in {Y2} before the end of the summer.",
    "The visit is the first by a senior official from {C} to {C2} since #YEAR.",
    "Local media in {W} reported that #NUM people had been evacuated as a precaution.",
];

const RU_TITLES: &[&str] = &[
    "{P.sn} и {P2.sn} обсудили {T.a} в {Y.p}",
    "{C.n} увеличит {T2.a} в {C2.a} на #PCT",
    "В {O.p} предупредили о новых рисках после переговоров в {Y.p}",
    "{P.sn} {P?прибыл/прибыла} в {Y.a} с официальным визитом",
    "{K.n} {K?подписал/подписала} соглашение с {C.i} на #RMONEY",
    "{C.n} и {C2.n} договорились расширить {T.a}",
    "{N.sn} {N?возглавит/возглавит} проверку в {O.p}",
    "Источники: {C.n} готовит {T.a} для {C2.g}",
    "В {W.p} из-за {T.g} пострадали #NUM человек",
    "{O.n} {O?повысил/повысила} прогноз по {T2.d}",
];

const RU_SENTENCES: &[&str] = &[
    "{P.n} {P?заявил/заявила} в #RDAY, что {C.n} намерена расширить {T.a} с {C2.i} к #YEAR году.",
    "По данным {O.g}, за последнюю неделю в районе {Y.g} зафиксировано #NUM случаев, связанных с {T.i}.",
    "В {Y.p} отказались комментировать соглашение о {T.p}, которое {N.n} из компании {K.n} {N?назвал/назвала} поворотным.",
    "Переговоры {P.sg} и {P2.g} продолжались более #NUM часов, говорится в опубликованном после встречи заявлении.",
    "Аналитики считают, что это может поднять цены на {T2.a} на #PCT до конца #YEAR года.",
    "В {C2.p} неоднократно опровергали сообщения о {T.p} и называли их попыткой испортить отношения с {C.i}.",
    "Как сообщили в {O.p}, стоимость контрактов, подписанных в {Y.p}, превышает #RMONEY.",
    "{N.n}, сотрудник института в {W.p}, {N?отметил/отметила}, что цифры говорят о смене курса.",
    "Акции {K.g} выросли на #PCT в начале торгов после того, как компания подтвердила сделку.",
    "Делегация в #RDAY отправится в {Y2.a}, где {P2.n} {P2?проведет/проведет} отдельную встречу.",
    "Жители {W.g} рассказали, что несколько дней видели на трассе военные колонны.",
    "{P.sn} {P?сообщил/сообщила} журналистам, что {C.n} открыта к диалогу, но не примет новые {T.a}.",
    "Предыдущий раунд переговоров по {T2.d} завершился без соглашения в #YEAR году.",
    "{K.n} и {K2.n} поставляют оборудование для проекта с #YEAR года, пишет издание.",
    "На спутниковых снимках, которые изучили в {O.p}, видно новое строительство к северу от {Y.g}.",
    "В министерстве сообщили, что направили в {W.a} #NUM специалистов для оценки ущерба.",
    "{N2.n}, {N2?советник/советница} правительства по вопросам {T2.g}, {N2?сказал/сказала}, что переговоры с {C2.i} только начинаются.",
    "По соглашению {C.n} также будет ежемесячно получать #NUM тыс. тонн {T2.g}.",
    "Критики плана, в том числе {N.n}, считают, что он делает {C.a} зависимой от {C2.g}.",
    "Представитель {O.g} {P?сказал/сказала}, что ситуация находится под постоянным контролем.",
    "Кроме того, {K.n} {K?объявил/объявила} об открытии представительства в {Y2.p} в следующем году.",
    "С начала года цены на {T2.a} снизились на #PCT, свидетельствуют официальные данные.",
    "Стороны договорились снова встретиться в {Y2.p} до конца лета.",
    "Это первый визит высокопоставленного чиновника из {C.g} в {C2.a} с #YEAR года.",
    "Местные СМИ в {W.p} сообщили, что в качестве меры предосторожности эвакуированы #NUM человек.",
    "{P.n} и {P2.n} также обсудили {T2.a} и вопросы {T3.g}.",
];

const EN_DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const RU_DAYS: &[&str] = &[
    "понедельник",
    "вторник",
    "среду",
    "четверг",
    "пятницу",
    "субботу",
    "воскресенье",
];

/// What a slot of an article is bound to.
enum Binding<'c> {
    Concept(&'c Concept),
    Rare(&'c Rare),
}

struct ArticleGen<'c> {
    concepts: &'c [Concept],
    rare: &'c [Rare],
}

impl<'c> ArticleGen<'c> {
    fn pick_concept(&self, rng: &mut fastrand::Rng, kind: Kind, taken: &[usize]) -> usize {
        loop {
            let i = rng.usize(..self.concepts.len());
            if self.concepts[i].kind == kind && !taken.contains(&i) {
                return i;
            }
        }
    }

    fn pick_rare(
        &self,
        rng: &mut fastrand::Rng,
        kind: RareKind,
        lang: Lang,
        taken: &[usize],
    ) -> usize {
        loop {
            let i = rng.usize(..self.rare.len());
            let r = &self.rare[i];
            if r.kind == kind && r.lang == lang && !taken.contains(&i) {
                return i;
            }
        }
    }

    /// Binds every slot name used by the article's templates.
    fn bind(&self, rng: &mut fastrand::Rng, lang: Lang) -> BTreeMap<&'static str, Binding<'c>> {
        let mut map = BTreeMap::new();
        let mut taken = Vec::new();
        for (slot, kind) in [
            ("P", Kind::Person),
            ("P2", Kind::Person),
            ("C", Kind::Country),
            ("C2", Kind::Country),
            ("Y", Kind::City),
            ("Y2", Kind::City),
            ("O", Kind::Org),
            ("T", Kind::Topic),
            ("T2", Kind::Topic),
            ("T3", Kind::Topic),
        ] {
            let i = self.pick_concept(rng, kind, &taken);
            taken.push(i);
            map.insert(slot, Binding::Concept(&self.concepts[i]));
        }
        let mut taken = Vec::new();
        for (slot, kind) in [
            ("N", RareKind::Person),
            ("N2", RareKind::Person),
            ("K", RareKind::Company),
            ("K2", RareKind::Company),
            ("W", RareKind::Town),
        ] {
            let i = self.pick_rare(rng, kind, lang, &taken);
            taken.push(i);
            map.insert(slot, Binding::Rare(&self.rare[i]));
        }
        map
    }
}

fn number(rng: &mut fastrand::Rng) -> String {
    match rng.u32(0..4) {
        0 => rng.u32(2..10).to_string(),
        1 => rng.u32(10..100).to_string(),
        2 => rng.u32(100..1000).to_string(),
        _ => format!("{},{:03}", rng.u32(1..20), rng.u32(0..1000)),
    }
}

/// Fills one template.
fn fill(
    template: &str,
    lang: Lang,
    bindings: &BTreeMap<&'static str, Binding>,
    rng: &mut fastrand::Rng,
) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').expect("closed slot");
            let slot = &after[..end];
            rest = &after[end + 1..];
            if let Some((name, choices)) = slot.split_once('?') {
                let (masc, fem) = choices.split_once('/').expect("two forms");
                let feminine = match &bindings[name] {
                    Binding::Concept(c) => c.feminine,
                    Binding::Rare(r) => r.feminine,
                };
                out.push_str(if feminine { fem } else { masc });
                continue;
            }
            let (name, form) = slot.split_once('.').unwrap_or((slot, ""));
            let text = match (&bindings[name], lang) {
                (Binding::Concept(c), Lang::En) => match form {
                    "s" | "pl" => c.en_short.clone(),
                    _ => c.en.clone(),
                },
                (Binding::Concept(c), Lang::Ru) => match form.strip_prefix('s') {
                    Some(case) if !form.is_empty() => c
                        .ru_short
                        .case(case.chars().next().unwrap_or('n'))
                        .to_string(),
                    _ => c.ru.case(form.chars().next().unwrap_or('n')).to_string(),
                },
                (Binding::Rare(r), _) => {
                    let forms = if form.starts_with('s') {
                        &r.short
                    } else {
                        &r.full
                    };
                    let case = form.trim_start_matches('s').chars().next().unwrap_or('n');
                    forms.case(case).to_string()
                }
            };
            out.push_str(&text);
        } else if let Some(after) = rest.strip_prefix('#') {
            let end = after
                .find(|c: char| !c.is_ascii_uppercase())
                .unwrap_or(after.len());
            let token = &after[..end];
            rest = &after[end..];
            let text = match token {
                "NUM" => number(rng),
                "PCT" => match lang {
                    Lang::En => format!("{}.{}%", rng.u32(1..40), rng.u32(0..10)),
                    Lang::Ru => format!("{},{}%", rng.u32(1..40), rng.u32(0..10)),
                },
                "YEAR" => rng.u32(2019..2027).to_string(),
                "DAY" => EN_DAYS[rng.usize(..EN_DAYS.len())].to_string(),
                "RDAY" => RU_DAYS[rng.usize(..RU_DAYS.len())].to_string(),
                "MONEY" => format!("${}.{} billion", rng.u32(1..90), rng.u32(0..10)),
                "RMONEY" => format!("{},{} млрд рублей", rng.u32(1..900), rng.u32(0..10)),
                other => panic!("unknown token #{other}"),
            };
            out.push_str(&text);
        } else {
            let next = rest.find(['{', '#']).unwrap_or(rest.len());
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    out.replace(" ,", ",")
}

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `count` articles, half English, half Russian, from a fixed seed.
pub fn articles(seed: u64, count: usize) -> Vec<BenchArticle> {
    let concepts = concepts();
    let rare = rare_pool();
    let generator = ArticleGen {
        concepts: &concepts,
        rare: &rare,
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::with_capacity(count);
    for id in 0..count {
        let lang = if id % 2 == 0 { Lang::En } else { Lang::Ru };
        let feeds: Vec<usize> = (0..FEEDS.len()).filter(|&f| FEEDS[f].2 == lang).collect();
        let feed = feeds[rng.usize(..feeds.len())];
        let bindings = generator.bind(&mut rng, lang);
        let (titles, sentences, categories) = match lang {
            Lang::En => (EN_TITLES, EN_SENTENCES, EN_CATEGORIES),
            Lang::Ru => (RU_TITLES, RU_SENTENCES, RU_CATEGORIES),
        };
        let title = capitalize(&fill(
            titles[rng.usize(..titles.len())],
            lang,
            &bindings,
            &mut rng,
        ));
        let target = rng.usize(100..=150);
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        rng.shuffle(&mut order);
        let mut words = word_count(&title);
        let mut summary = String::new();
        for i in order {
            if words >= target {
                break;
            }
            let sentence = capitalize(&fill(sentences[i], lang, &bindings, &mut rng));
            let n = word_count(&sentence);
            if words + n > 150 && words >= 100 {
                continue;
            }
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(&sentence);
            words += n;
        }
        let (name, host, _, tags) = FEEDS[feed];
        let mut feed_labels = vec![name.to_string()];
        feed_labels.extend(tags.iter().map(|t| t.to_string()));
        out.push(BenchArticle {
            id,
            lang,
            title,
            summary,
            link: format!("https://{host}/news/{}/{id}", 2026_0000 + id),
            categories: vec![categories[rng.usize(..categories.len())].to_string()],
            feed_labels,
            feed,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Lists and watches

/// The generated `[lists]`: themed lists of long-tail and topical names.
pub fn generated_lists() -> BTreeMap<String, Vec<String>> {
    let concepts = concepts();
    let rare = rare_pool();
    let mut rng = fastrand::Rng::with_seed(0x6c69_7374);
    let mut lists = BTreeMap::new();
    for i in 0..GENERATED_LISTS {
        let lang = if i % 2 == 0 { Lang::En } else { Lang::Ru };
        let (theme, kind) = match i % 6 {
            0 | 1 => ("people", RareKind::Person),
            2 | 3 => ("companies", RareKind::Company),
            _ => ("places", RareKind::Town),
        };
        let size = rng.usize(8..30);
        let mut items = Vec::with_capacity(size);
        while items.len() < size {
            let item = if rng.u32(0..5) == 0 {
                let c = &concepts[rng.usize(..concepts.len())];
                match lang {
                    Lang::En => c.en.trim_start_matches("the ").to_string(),
                    Lang::Ru => c.ru.nom().to_string(),
                }
            } else {
                let r = loop {
                    let r = &rare[rng.usize(..rare.len())];
                    if r.kind == kind && r.lang == lang {
                        break r;
                    }
                };
                match rng.u32(0..4) {
                    0 if r.kind == RareKind::Person => r.full.nom().replace(['«', '»'], ""),
                    // A prefix, as analysts write for company families ("Norvex*").
                    1 if r.kind == RareKind::Company => format!("{}*", r.short.nom()),
                    _ => r.short.nom().to_string(),
                }
            };
            if !items.contains(&item) {
                items.push(item);
            }
        }
        lists.insert(format!("{theme}_{}_{i}", lang.code()), items);
    }
    lists
}

/// Generates watch queries; watch `i` does not depend on how many are asked for.
pub struct WatchGen {
    concepts: Vec<Concept>,
    rare: Vec<Rare>,
    lists: Vec<String>,
    hot_share: f64,
}

impl WatchGen {
    /// `lists`: the names usable as `@name` (config lists and generated ones).
    pub fn new(lists: Vec<String>, hot_share: f64) -> Self {
        Self {
            concepts: concepts(),
            rare: rare_pool(),
            lists,
            hot_share,
        }
    }

    /// A word or a quoted phrase for a query, in dictionary form.
    fn term(&self, rng: &mut fastrand::Rng, lang: Lang) -> String {
        if rng.f64() < self.hot_share {
            let c = &self.concepts[rng.usize(..self.concepts.len())];
            self.concept_term(rng, c, lang)
        } else {
            let r = loop {
                let r = &self.rare[rng.usize(..self.rare.len())];
                if r.lang == lang {
                    break r;
                }
            };
            let name = if r.kind == RareKind::Person && rng.u32(0..3) == 0 {
                r.full.nom().to_string()
            } else {
                r.short.nom().to_string()
            };
            quote(&name.replace(['«', '»'], ""))
        }
    }

    fn concept_term(&self, rng: &mut fastrand::Rng, c: &Concept, lang: Lang) -> String {
        let text = match (lang, c.kind) {
            (Lang::En, Kind::Person) if rng.bool() => c.en.clone(),
            (Lang::En, Kind::Topic) => c.en.clone(),
            (Lang::En, _) => c.en_short.clone(),
            (Lang::Ru, Kind::Person) if rng.bool() => c.ru.nom().to_string(),
            (Lang::Ru, _) => c.ru_short.nom().to_string(),
        };
        quote(&text)
    }

    fn phrase(&self, rng: &mut fastrand::Rng, lang: Lang) -> String {
        loop {
            let term = self.term(rng, lang);
            if term.starts_with('"') {
                return term;
            }
        }
    }

    /// A prefix of a word of some term: `sanct*`, `ракет*`.
    fn prefix(&self, rng: &mut fastrand::Rng, lang: Lang) -> String {
        loop {
            let term = self.term(rng, lang);
            let word = term.trim_matches('"').split(' ').next_back().unwrap_or("");
            let chars: Vec<char> = word.chars().collect();
            if chars.len() >= 6 && chars.iter().all(|c| c.is_alphabetic()) {
                let keep = rng.usize(4..=chars.len() - 2);
                return format!("{}*", chars[..keep].iter().collect::<String>());
            }
        }
    }

    /// The same concept in both languages, as analysts write bilingual watches.
    fn bilingual(&self, rng: &mut fastrand::Rng) -> String {
        let c = &self.concepts[rng.usize(..self.concepts.len())];
        format!(
            "({} OR {})",
            self.concept_term(rng, c, Lang::En),
            self.concept_term(rng, c, Lang::Ru)
        )
    }

    fn site(&self, rng: &mut fastrand::Rng, lang: Lang) -> &'static str {
        loop {
            let (_, host, feed_lang, _) = FEEDS[rng.usize(..FEEDS.len())];
            if feed_lang == lang {
                return host;
            }
        }
    }

    /// The query of watch `index`.
    pub fn query(&self, index: usize) -> String {
        let mut rng = fastrand::Rng::with_seed(
            WATCH_SEED ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let lang = if rng.bool() { Lang::En } else { Lang::Ru };
        let shape = rng.u32(0..100);
        match shape {
            0..30 => format!(
                "{} AND {}",
                self.term(&mut rng, lang),
                self.term(&mut rng, lang)
            ),
            30..42 => format!(
                "{} AND ({} OR {})",
                self.phrase(&mut rng, lang),
                self.term(&mut rng, lang),
                self.term(&mut rng, lang)
            ),
            42..56 => {
                let list = &self.lists[rng.usize(..self.lists.len())];
                format!("@{list} AND {}", self.term(&mut rng, lang))
            }
            56..66 => format!(
                "{} NEAR/5 {}",
                self.prefix(&mut rng, lang),
                self.term(&mut rng, lang)
            ),
            66..76 => {
                let wanted = self.term(&mut rng, lang);
                let unwanted = self.term(&mut rng, lang);
                if unwanted.starts_with('"') {
                    format!("title:({wanted}) NOT {unwanted}")
                } else {
                    format!("title:({wanted}) -{unwanted}")
                }
            }
            76..84 => format!(
                "site:{} {}",
                self.site(&mut rng, lang),
                self.term(&mut rng, lang)
            ),
            84..94 => format!(
                "{} AND {}",
                self.bilingual(&mut rng),
                self.term(&mut rng, lang)
            ),
            _ => format!(
                "{} AND {} AND NOT {}",
                self.term(&mut rng, lang),
                self.term(&mut rng, lang),
                self.term(&mut rng, lang)
            ),
        }
    }
}

fn quote(text: &str) -> String {
    if text.contains(' ') {
        format!("\"{text}\"")
    } else {
        text.to_string()
    }
}
