#include "console/public_pages.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace mir::console {
namespace {

struct Words {
  const char* it;
  const char* en;
};

const char* W(PageLang lang, const Words& w) { return lang == PageLang::kEn ? w.en : w.it; }

std::string Esc(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The options of each choice, by their mir.v1 names.
using Options = std::vector<std::pair<const char*, Words>>;

const Options& ReporterTypes() {
  static const auto* const kOptions = new Options{
      {"REPORTER_SELF", {"Sono io la persona in difficoltà", "I am the person in trouble"}},
      {"REPORTER_CITIZEN", {"Un cittadino o una cittadina", "A member of the public"}},
      {"REPORTER_CLIENT_FRIEND_COLLEAGUE",
       {"Cliente, amico, amica o collega della persona", "A client, friend or colleague"}},
      {"REPORTER_LAW_ENFORCEMENT", {"Forze dell’ordine", "Law enforcement"}},
      {"REPORTER_SOCIAL_HEALTH_SERVICE",
       {"Servizi sociali o sanitari", "Social or health services"}},
      {"REPORTER_ANTI_TRAFFICKING_PROJECT",
       {"Un progetto antitratta", "An anti-trafficking project"}},
      {"REPORTER_OTHER", {"Altro", "Other"}},
  };
  return *kOptions;
}

const Options& Reasons() {
  static const auto* const kOptions = new Options{
      {"REASON_REPORT", {"Segnalare una situazione", "Report a situation"}},
      {"REASON_HELP", {"Chiedere aiuto", "Ask for help"}},
      {"REASON_INFORMATION", {"Chiedere informazioni", "Ask for information"}},
      {"REASON_CONSULTATION", {"Chiedere un consiglio", "Ask for advice"}},
  };
  return *kOptions;
}

const Options& Exploitations() {
  static const auto* const kOptions = new Options{
      {"EXPLOITATION_SEXUAL_STREET", {"Sessuale, in strada", "Sexual, on the street"}},
      {"EXPLOITATION_SEXUAL_INDOOR",
       {"Sessuale, al chiuso (appartamenti, locali)", "Sexual, indoors (flats, clubs)"}},
      {"EXPLOITATION_LABOUR",
       {"Lavoro (campi, cantieri, fabbriche, ristoranti…)",
        "Labour (fields, building sites, factories, restaurants…)"}},
      {"EXPLOITATION_FORCED_BEGGING", {"Accattonaggio forzato", "Forced begging"}},
      {"EXPLOITATION_FORCED_CRIMINALITY",
       {"Costretti a commettere reati", "Forced to commit crimes"}},
      {"EXPLOITATION_FORCED_MARRIAGE", {"Matrimonio forzato", "Forced marriage"}},
      {"EXPLOITATION_DOMESTIC_SERVITUDE", {"Servitù domestica", "Domestic servitude"}},
      {"EXPLOITATION_ORGAN_REMOVAL", {"Prelievo di organi", "Organ removal"}},
      {"EXPLOITATION_OTHER", {"Altro", "Other"}},
      {"EXPLOITATION_UNKNOWN", {"Non lo so", "I do not know"}},
  };
  return *kOptions;
}

// ISO 639-3 codes, each named in its own language: the reporter picks the
// one they read.
const std::vector<std::pair<const char*, const char*>>& Languages() {
  static const auto* const kLanguages = new std::vector<std::pair<const char*, const char*>>{
      {"ita", "Italiano"},  {"eng", "English"}, {"fra", "Français"},   {"spa", "Español"},
      {"por", "Português"}, {"deu", "Deutsch"}, {"ron", "Română"},     {"sqi", "Shqip"},
      {"bul", "Български"}, {"pol", "Polski"},  {"ukr", "Українська"}, {"rus", "Русский"},
      {"ara", "العربية"},   {"pcm", "Naijá"},   {"yor", "Yorùbá"},     {"ibo", "Igbo"},
      {"bin", "Ẹ̀dó"},       {"tir", "ትግርኛ"},    {"amh", "አማርኛ"},       {"som", "Soomaali"},
      {"wol", "Wolof"},     {"urd", "اردو"},    {"pan", "ਪੰਜਾਬੀ"},      {"ben", "বাংলা"},
      {"hin", "हिन्दी"},     {"tgl", "Tagalog"}, {"zho", "中文"},       {"tur", "Türkçe"},
  };
  return *kLanguages;
}

struct FieldWords {
  const char* name;
  Words label;
  Words problem;
};

const std::vector<FieldWords>& Fields() {
  static const auto* const kFields = new std::vector<FieldWords>{
      {"reporter_type",
       {"Chi segnala", "Who is reporting"},
       {"Scegli chi sta segnalando.", "Choose who is reporting."}},
      {"reason",
       {"Perché ci scrivi", "Why you are writing"},
       {"Scegli perché ci scrivi.", "Choose why you are writing."}},
      {"province",
       {"Provincia", "Province"},
       {"Scrivi la sigla di una provincia italiana (due lettere, es. FI, MI, NA) o lascia vuoto.",
        "Write an Italian province code (two letters, e.g. FI, MI, NA) or leave it empty."}},
      {"municipality",
       {"Comune", "Town"},
       {"Il nome del comune è troppo lungo (al massimo 100 caratteri).",
        "The town’s name is too long (100 characters at most)."}},
      {"suspected_exploitation",
       {"Che tipo di sfruttamento", "What kind of exploitation"},
       {"Scegli solo tra le voci dell’elenco.", "Choose only from the list."}},
      {"persons",
       {"Quante persone", "How many people"},
       {"Scrivi un numero intero da 0 a 1000, o lascia vuoto.",
        "Write a whole number from 0 to 1000, or leave it empty."}},
      {"description",
       {"Che cosa succede", "What is happening"},
       {"Il testo è troppo lungo: al massimo 4.000 caratteri (meno con lettere accentate o "
        "alfabeti non latini).",
        "The text is too long: 4,000 characters at most (fewer with accented letters or "
        "non-Latin scripts)."}},
      {"language",
       {"Lingua", "Language"},
       {"Scegli una lingua dell’elenco.", "Choose a language from the list."}},
      {"contact",
       {"Contatto (facoltativo)", "Contact (optional)"},
       {"Il contatto è troppo lungo (al massimo 200 caratteri).",
        "The contact is too long (200 characters at most)."}},
      {"receipt_code",
       {"Codice della segnalazione", "Report code"},
       {"Scrivi il codice che hai ricevuto (es. K7QF-3MZP-XW2D).",
        "Write the code you were given (e.g. K7QF-3MZP-XW2D)."}},
      {"passphrase",
       {"Parola d’ordine", "Passphrase"},
       {"Scrivi la parola d’ordine che hai ricevuto.", "Write the passphrase you were given."}},
  };
  return *kFields;
}

const FieldWords* FindField(absl::string_view name) {
  for (const FieldWords& f : Fields()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string Value(const FormValues& values, const char* name) {
  auto it = values.find(name);
  return it == values.end() ? "" : it->second;
}
bool Has(const FormValues& values, const char* name, absl::string_view value) {
  auto [b, e] = values.equal_range(name);
  for (auto it = b; it != e; ++it) {
    if (it->second == value) return true;
  }
  return false;
}

std::string Head(PageLang lang, absl::string_view title) {
  return absl::StrCat("<!doctype html>\n<html lang=\"", lang == PageLang::kEn ? "en" : "it",
                      "\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<meta name=\"referrer\" content=\"no-referrer\">\n<title>",
                      Esc(title),
                      "</title>\n<link rel=\"icon\" href=\"data:,\">\n"
                      "<link rel=\"stylesheet\" href=\"/form.css\">\n"
                      "<script src=\"/form.js\" defer></script>\n</head>\n<body>\n");
}

// `self`: this page's path, for the language link.
std::string Header(PageLang lang, absl::string_view self) {
  const bool en = lang == PageLang::kEn;
  return absl::StrCat(
      "<a class=\"skip-link\" href=\"#main\">", en ? "Skip to content" : "Vai al contenuto",
      "</a>\n<header class=\"site-header\"><p class=\"brand\">",
      en ? "Report trafficking or exploitation" : "Segnala tratta o sfruttamento",
      "</p>\n<p class=\"lang\"><a href=\"", self, en ? "" : "?lang=en", "\" lang=\"",
      en ? "it" : "en", "\" hreflang=\"", en ? "it" : "en", "\">", en ? "Italiano" : "English",
      "</a></p></header>\n<main id=\"main\" tabindex=\"-1\">\n");
}

std::string Footer(PageLang lang) {
  const bool en = lang == PageLang::kEn;
  return absl::StrCat(
      "</main>\n<footer class=\"site-footer\"><p class=\"call112\">", Esc(kCall112), "</p>\n<p>",
      en ? "This site keeps no record of your address (IP) or your browser, and sets no "
           "cookies."
         : "Questo sito non registra il tuo indirizzo (IP) né il tuo browser, e non usa "
           "cookie.",
      " <a href=\"/follow-up", en ? "?lang=en" : "", "\">",
      en ? "Follow a report you made" : "Segui una segnalazione già fatta",
      "</a></p></footer>\n</body>\n</html>\n");
}

std::string LangField(PageLang lang) {
  return lang == PageLang::kEn ? "<input type=\"hidden\" name=\"lang\" value=\"en\">\n" : "";
}

// aria-invalid and the error's id, for the field in error.
std::string Invalid(absl::string_view field, absl::string_view name) {
  if (field != name) return "";
  return absl::StrCat(" aria-invalid=\"true\" aria-describedby=\"", name, "-error\"");
}
std::string ErrorAt(PageLang lang, absl::string_view field, absl::string_view name) {
  if (field != name) return "";
  return absl::StrCat("<p id=\"", name, "-error\" class=\"field-error\">",
                      Esc(FieldProblem(lang, name)), "</p>\n");
}

std::string Select(PageLang lang, const char* name, const Options& options,
                   const std::string& chosen, bool placeholder, absl::string_view error_field) {
  std::string out = absl::StrCat("<select id=\"", name, "\" name=\"", name, "\"",
                                 placeholder ? " required" : "", Invalid(error_field, name), ">\n");
  if (placeholder) {
    absl::StrAppend(&out, "<option value=\"\">",
                    lang == PageLang::kEn ? "— choose —" : "— scegli —", "</option>\n");
  }
  for (const auto& [value, words] : options) {
    absl::StrAppend(&out, "<option value=\"", value, "\"", chosen == value ? " selected" : "", ">",
                    W(lang, words), "</option>\n");
  }
  out += "</select>\n";
  return out;
}

std::string ErrorSummary(PageLang lang, absl::string_view field, absl::string_view text) {
  if (text.empty()) return "";
  std::string out = absl::StrCat(
      "<div class=\"notice notice-error\" role=\"alert\" id=\"form-error\"><p>", Esc(text), "</p>");
  if (!field.empty()) {
    absl::StrAppend(&out, "<p><a href=\"#", Esc(field), "\">",
                    lang == PageLang::kEn ? "Go to the field: " : "Vai al campo: ",
                    Esc(FieldLabel(lang, field)), "</a></p>");
  }
  out += "</div>\n";
  return out;
}

}  // namespace

PageLang PageLangOf(absl::string_view value) {
  return value == "en" ? PageLang::kEn : PageLang::kIt;
}

std::string FieldLabel(PageLang lang, absl::string_view field) {
  const FieldWords* f = FindField(field);
  return f == nullptr ? std::string(field) : W(lang, f->label);
}

std::string FieldProblem(PageLang lang, absl::string_view field) {
  const FieldWords* f = FindField(field);
  if (f == nullptr) {
    return lang == PageLang::kEn ? "This field is not valid." : "Questo campo non è valido.";
  }
  return W(lang, f->problem);
}

std::string FormPage(PageLang lang, const FormValues& values, absl::string_view error_field,
                     absl::string_view error_text, absl::string_view form_token) {
  const bool en = lang == PageLang::kEn;
  const absl::string_view ef = error_field;
  std::string language = Value(values, "language");
  if (language.empty()) language = en ? "eng" : "ita";
  std::string reason = Value(values, "reason");
  if (reason.empty() && values.empty()) reason = "REASON_REPORT";
  const bool danger = values.count("immediate_danger") > 0;

  std::string out = Head(lang, en ? "Report trafficking or exploitation — MIR Exchange"
                                  : "Segnala tratta o sfruttamento — MIR Exchange");
  absl::StrAppend(&out, Header(lang, "/"));
  absl::StrAppend(
      &out, "<h1>", en ? "Report trafficking or exploitation" : "Segnala tratta o sfruttamento",
      "</h1>\n<p class=\"intro\">",
      en ? "You can write to us anonymously: no field asks who you are. You will get a code "
           "and a passphrase to see later how your report is going."
         : "Puoi scriverci in forma anonima: nessun campo chiede chi sei. Riceverai un codice "
           "e una parola d’ordine per sapere poi come procede la segnalazione.",
      "</p>\n", ErrorSummary(lang, ef, error_text));
  absl::StrAppend(&out, "<form method=\"post\" action=\"/report\" id=\"report-form\"",
                  " accept-charset=\"utf-8\">\n", LangField(lang),
                  "<input type=\"hidden\" name=\"form_token\" value=\"", Esc(form_token), "\">\n");

  // Danger first: it is what matters most.
  absl::StrAppend(
      &out, "<div class=\"check danger-check\"><input type=\"checkbox\" id=\"immediate_danger\" ",
      "name=\"immediate_danger\" value=\"1\"", danger ? " checked" : "",
      "><label for=\"immediate_danger\">",
      en ? "Someone is in immediate danger" : "Qualcuno è in pericolo immediato",
      "</label></div>\n<div id=\"danger-112\" class=\"danger\" role=\"alert\"",
      danger ? "" : " hidden", "><p>", Esc(kCall112), "</p></div>\n");

  absl::StrAppend(&out, "<fieldset><legend>", en ? "About you" : "Chi sei", "</legend>\n");
  absl::StrAppend(
      &out, "<div class=\"field\"><label for=\"reporter_type\">", FieldLabel(lang, "reporter_type"),
      "</label>\n",
      Select(lang, "reporter_type", ReporterTypes(), Value(values, "reporter_type"), true, ef),
      ErrorAt(lang, ef, "reporter_type"), "</div>\n");
  absl::StrAppend(&out, "<div class=\"field\"><label for=\"reason\">", FieldLabel(lang, "reason"),
                  "</label>\n", Select(lang, "reason", Reasons(), reason, true, ef),
                  ErrorAt(lang, ef, "reason"), "</div>\n");
  absl::StrAppend(&out, "<div class=\"field\"><label for=\"language\">",
                  en ? "The language you write in" : "La lingua in cui scrivi", "</label>\n",
                  "<select id=\"language\" name=\"language\"", Invalid(ef, "language"), ">\n");
  for (const auto& [code, name] : Languages()) {
    absl::StrAppend(&out, "<option value=\"", code, "\"", language == code ? " selected" : "", ">",
                    name, "</option>\n");
  }
  absl::StrAppend(&out, "</select>\n", ErrorAt(lang, ef, "language"), "</div>\n</fieldset>\n");

  absl::StrAppend(&out, "<fieldset><legend>", en ? "What is happening" : "Che cosa succede",
                  "</legend>\n");
  absl::StrAppend(
      &out, "<div class=\"field\"><label for=\"description\">",
      en ? "Describe what you saw or know (4,000 characters at most). You need not write your "
           "name or anyone’s full name."
         : "Descrivi che cosa hai visto o sai (al massimo 4.000 caratteri). Non serve "
           "scrivere il tuo nome né nomi completi.",
      "</label>\n<textarea id=\"description\" name=\"description\" rows=\"8\" "
      "maxlength=\"4000\"",
      Invalid(ef, "description"), ">", Esc(Value(values, "description")), "</textarea>\n",
      ErrorAt(lang, ef, "description"), "</div>\n");
  absl::StrAppend(&out, "<fieldset class=\"group\"><legend>",
                  FieldLabel(lang, "suspected_exploitation"), " ",
                  en ? "(if you know)" : "(se lo sai)", "</legend>\n");
  for (const auto& [value, words] : Exploitations()) {
    absl::StrAppend(&out, "<div class=\"check\"><input type=\"checkbox\" id=\"x-", value,
                    "\" name=\"suspected_exploitation\" value=\"", value, "\"",
                    Has(values, "suspected_exploitation", value) ? " checked" : "",
                    "><label for=\"x-", value, "\">", W(lang, words), "</label></div>\n");
  }
  absl::StrAppend(&out, ErrorAt(lang, ef, "suspected_exploitation"), "</fieldset>\n");
  absl::StrAppend(
      &out, "<div class=\"field\"><label for=\"persons\">",
      en ? "How many people are involved (if you know)"
         : "Quante persone sono coinvolte (se lo sai)",
      "</label>\n<input type=\"number\" id=\"persons\" name=\"persons\" min=\"0\" max=\"1000\" "
      "inputmode=\"numeric\" value=\"",
      Esc(Value(values, "persons")), "\"", Invalid(ef, "persons"), ">\n",
      ErrorAt(lang, ef, "persons"), "</div>\n");
  absl::StrAppend(&out,
                  "<div class=\"check\"><input type=\"checkbox\" id=\"minors_suspected\" "
                  "name=\"minors_suspected\" value=\"1\"",
                  values.count("minors_suspected") ? " checked" : "",
                  "><label for=\"minors_suspected\">",
                  en ? "There may be minors (under 18)" : "Potrebbero esserci minorenni",
                  "</label></div>\n</fieldset>\n");

  absl::StrAppend(&out, "<fieldset><legend>", en ? "Where" : "Dove", "</legend>\n");
  absl::StrAppend(
      &out, "<div class=\"field\"><label for=\"province\">",
      en ? "Province (two letters, e.g. FI; optional)"
         : "Provincia (sigla di due lettere, es. FI; facoltativa)",
      "</label>\n<input type=\"text\" id=\"province\" name=\"province\" maxlength=\"2\" "
      "size=\"3\" autocomplete=\"off\" autocapitalize=\"characters\" value=\"",
      Esc(Value(values, "province")), "\"", Invalid(ef, "province"), ">\n",
      ErrorAt(lang, ef, "province"), "</div>\n");
  absl::StrAppend(&out, "<div class=\"field\"><label for=\"municipality\">",
                  en ? "Town (optional)" : "Comune (facoltativo)",
                  "</label>\n<input type=\"text\" id=\"municipality\" name=\"municipality\" "
                  "maxlength=\"100\" autocomplete=\"off\" value=\"",
                  Esc(Value(values, "municipality")), "\"", Invalid(ef, "municipality"), ">\n",
                  ErrorAt(lang, ef, "municipality"), "</div>\n</fieldset>\n");

  absl::StrAppend(
      &out, "<fieldset class=\"optional\"><legend>",
      en ? "Contact — optional" : "Contatto — facoltativo", "</legend>\n<p class=\"help\" ",
      "id=\"contact-help\">",
      en ? "Leave it empty to stay anonymous. If you want us to get back to you, write a phone "
           "number or an e-mail address. Only the hotline that takes your report can read it."
         : "Lascialo vuoto per restare anonimo. Se vuoi essere ricontattato, scrivi un numero "
           "di telefono o un indirizzo e-mail. Lo legge solo il numero verde che riceve la "
           "segnalazione.",
      "</p>\n<div class=\"field\"><label for=\"contact\">", FieldLabel(lang, "contact"),
      "</label>\n<input type=\"text\" id=\"contact\" name=\"contact\" maxlength=\"200\" "
      "autocomplete=\"off\" aria-describedby=\"contact-help\" value=\"",
      Esc(Value(values, "contact")), "\"", ef == "contact" ? " aria-invalid=\"true\"" : "", ">\n",
      ErrorAt(lang, ef, "contact"), "</div>\n</fieldset>\n");

  absl::StrAppend(&out, "<div class=\"buttons\"><button type=\"submit\" id=\"send\">",
                  en ? "Send the report" : "Invia la segnalazione", "</button></div>\n</form>\n",
                  Footer(lang));
  return out;
}

std::string ReceiptPage(PageLang lang, const v1::PublicReportResponse& receipt,
                        bool immediate_danger) {
  const bool en = lang == PageLang::kEn;
  std::string out =
      Head(lang, en ? "Report received — MIR Exchange" : "Segnalazione ricevuta — MIR Exchange");
  absl::StrAppend(&out, Header(lang, "/"));
  if (immediate_danger) {
    absl::StrAppend(&out, "<div id=\"danger-112\" class=\"danger\" role=\"alert\"><p>",
                    Esc(kCall112), "</p></div>\n");
  }
  absl::StrAppend(
      &out, "<h1>", en ? "Report received. Thank you." : "Segnalazione ricevuta. Grazie.",
      "</h1>\n<p>",
      en ? "Write down the code and the passphrase now: they are shown only this once and "
           "nobody can find them again for you. With them you can see how your report is "
           "going."
         : "Scrivi ora il codice e la parola d’ordine: li vedi solo questa volta e nessuno "
           "può recuperarli per te. Con questi puoi sapere come procede la segnalazione.",
      "</p>\n<dl class=\"receipt\">\n<dt>", FieldLabel(lang, "receipt_code"),
      "</dt>\n<dd id=\"receipt-code\" class=\"mono\">", Esc(receipt.receipt_code()), "</dd>\n<dt>",
      FieldLabel(lang, "passphrase"), "</dt>\n<dd id=\"passphrase\" class=\"mono\">",
      Esc(receipt.passphrase()), "</dd>\n</dl>\n<p><a href=\"/follow-up", en ? "?lang=en" : "",
      "\">", en ? "Follow your report" : "Segui la tua segnalazione", "</a> · <a href=\"/",
      en ? "?lang=en" : "", "\">", en ? "Make another report" : "Fai un’altra segnalazione",
      "</a></p>\n", Footer(lang));
  return out;
}

std::string FollowUpPage(PageLang lang, absl::string_view error_field,
                         absl::string_view error_text) {
  const bool en = lang == PageLang::kEn;
  std::string out = Head(
      lang, en ? "Follow your report — MIR Exchange" : "Segui la tua segnalazione — MIR Exchange");
  absl::StrAppend(&out, Header(lang, "/follow-up"));
  absl::StrAppend(
      &out, "<h1>", en ? "Follow your report" : "Segui la tua segnalazione", "</h1>\n<p>",
      en ? "Write the code and the passphrase you were given when you sent the report."
         : "Scrivi il codice e la parola d’ordine che hai ricevuto quando hai inviato la "
           "segnalazione.",
      "</p>\n", ErrorSummary(lang, error_field, error_text),
      "<form method=\"post\" action=\"/follow-up\" id=\"follow-up-form\" "
      "accept-charset=\"utf-8\">\n",
      LangField(lang));
  for (const char* name : {"receipt_code", "passphrase"}) {
    absl::StrAppend(&out, "<div class=\"field\"><label for=\"", name, "\">", FieldLabel(lang, name),
                    "</label>\n<input type=\"text\" id=\"", name, "\" name=\"", name,
                    "\" required maxlength=\"200\" autocomplete=\"off\" spellcheck=\"false\"",
                    Invalid(error_field, name), ">\n", ErrorAt(lang, error_field, name),
                    "</div>\n");
  }
  absl::StrAppend(&out, "<div class=\"buttons\"><button type=\"submit\" id=\"check\">",
                  en ? "See how it is going" : "Vedi come procede", "</button></div>\n</form>\n",
                  Footer(lang));
  return out;
}

std::string ProgressPage(PageLang lang, const v1::FollowUpResponse& progress) {
  const bool en = lang == PageLang::kEn;
  Words words{"", ""};
  switch (progress.progress()) {
    case v1::FollowUpResponse::IN_HAND:
      words = {
          "In carico: la segnalazione è stata esaminata e qualcuno se ne sta occupando "
          "(qui o in un’altra regione).",
          "Being handled: your report was looked at and someone is acting on it (here "
          "or in another region)."};
      break;
    case v1::FollowUpResponse::CLOSED:
      words = {"Chiusa: la segnalazione è stata esaminata; non sono previste altre azioni.",
               "Closed: your report was looked at; nothing more will be done."};
      break;
    default:
      words = {"Ricevuta: la segnalazione è arrivata e non è ancora stata esaminata.",
               "Received: your report arrived and has not been looked at yet."};
  }
  std::string day;
  if (progress.has_received_on()) {
    day = absl::FormatTime("%d/%m/%Y", absl::FromUnixSeconds(progress.received_on().seconds()),
                           absl::UTCTimeZone());
  }
  std::string out =
      Head(lang, en ? "Your report — MIR Exchange" : "La tua segnalazione — MIR Exchange");
  absl::StrAppend(&out, Header(lang, "/follow-up"));
  absl::StrAppend(&out, "<h1>", en ? "Your report" : "La tua segnalazione",
                  "</h1>\n<p id=\"progress\" data-progress=\"",
                  v1::FollowUpResponse::Progress_Name(progress.progress()), "\">", W(lang, words),
                  "</p>\n");
  if (!day.empty()) {
    absl::StrAppend(&out, "<p>", en ? "Received on " : "Ricevuta il ", day, ".</p>\n");
  }
  absl::StrAppend(&out, Footer(lang));
  return out;
}

std::string NoSuchReportPage(PageLang lang) {
  return FollowUpPage(
      lang, "",
      lang == PageLang::kEn
          ? "No report matches this code and passphrase. Check that you wrote both exactly as "
            "you were given them."
          : "Nessuna segnalazione corrisponde a questo codice e a questa parola d’ordine. "
            "Controlla di averli scritti esattamente come li hai ricevuti.");
}

std::string TroublePage(PageLang lang, Trouble trouble) {
  const bool en = lang == PageLang::kEn;
  Words title{"", ""}, text{"", ""};
  switch (trouble) {
    case Trouble::kTooLarge:
      title = {"Testo troppo lungo", "Text too long"};
      text = {
          "Quello che hai inviato è troppo lungo (al massimo 16 KiB in tutto; la "
          "descrizione al massimo 4.000 caratteri). Torna indietro, accorcia il testo e "
          "invia di nuovo. Non è stato registrato nulla.",
          "What you sent is too long (16 KiB in all at most; the description 4,000 "
          "characters at most). Go back, shorten the text and send it again. Nothing was "
          "recorded."};
      break;
    case Trouble::kTooMany:
      title = {"Troppe richieste", "Too many requests"};
      text = {
          "Sono arrivate troppe richieste in poco tempo. Aspetta qualche minuto e "
          "riprova. Non è stato registrato nulla.",
          "Too many requests arrived in a short time. Wait a few minutes and try again. "
          "Nothing was recorded."};
      break;
    case Trouble::kCrossOrigin:
      title = {"Richiesta rifiutata", "Request refused"};
      text = {
          "Il modulo va inviato da questa pagina, non da un altro sito. Apri il modulo "
          "da qui e invialo di nuovo.",
          "The form must be sent from this site's own page, not another site. Open the "
          "form here and send it again."};
      break;
    case Trouble::kNotFound:
      title = {"Pagina non trovata", "Page not found"};
      text = {"Questa pagina non esiste.", "This page does not exist."};
      break;
    case Trouble::kUnavailable:
      title = {"Servizio non disponibile", "Service unavailable"};
      text = {
          "In questo momento non riusciamo a registrare la richiesta. Riprova tra "
          "qualche minuto. Non è stato registrato nulla.",
          "We cannot record your request right now. Try again in a few minutes. Nothing "
          "was recorded."};
      break;
    case Trouble::kFailed:
      title = {"Errore", "Error"};
      text = {"Qualcosa non ha funzionato. Riprova più tardi.",
              "Something went wrong. Try again later."};
      break;
  }
  std::string out = Head(lang, absl::StrCat(W(lang, title), " — MIR Exchange"));
  absl::StrAppend(&out, Header(lang, "/"), "<h1>", W(lang, title),
                  "</h1>\n<div class=\"notice notice-error\" role=\"alert\"><p>", W(lang, text),
                  "</p></div>\n<p><a href=\"/", en ? "?lang=en" : "", "\">",
                  en ? "Back to the form" : "Torna al modulo", "</a></p>\n", Footer(lang));
  return out;
}

}  // namespace mir::console
