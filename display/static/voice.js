/* Voice-call clip sequencing: the twin of display/voice.py (same rules, same clip names; tested against it).
 *   clipSequence("A001", 3, "zh") -> ["qing","A","0","0","1","hao-dao","3","hao-chuangkou-banli"]
 * Loaded by the hall screen (window.OneWindowVoice) and by Node in the unit tests (module.exports). */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.OneWindowVoice = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  var LANGUAGES = ["zh", "bo", "en"];
  var NUMBER_RE = /^([A-Z]{1,2})([0-9]{1,5})$/;
  var MAX_WINDOW = 999;

  function VoiceError(message) {
    var e = new Error(message);
    e.name = "VoiceError";
    return e;
  }

  function splitNumber(number) {
    var m = NUMBER_RE.exec(String(number).trim().toUpperCase());
    if (!m) throw VoiceError("ticket number " + JSON.stringify(number) +
      " is not letters (1-2) followed by digits (1-5), e.g. A001");
    return [m[1].split(""), m[2].split("")];
  }

  function zhCardinal(n) {
    if (n < 10) return [String(n)];
    var tens, unit;
    if (n < 100) {
      tens = Math.floor(n / 10); unit = n % 10;
      return (tens === 1 ? ["shi"] : [String(tens), "shi"]).concat(unit ? [String(unit)] : []);
    }
    var hundreds = Math.floor(n / 100), rest = n % 100;
    var out = [String(hundreds), "bai"];
    if (rest === 0) return out;
    if (rest < 10) return out.concat(["0", String(rest)]);
    tens = Math.floor(rest / 10); unit = rest % 10;
    return out.concat([String(tens), "shi"], unit ? [String(unit)] : []);
  }

  function enCardinal(n) {
    if (n < 10) return [String(n)];
    if (n < 20) return ["n" + n];
    if (n < 100) {
      var unit = n % 10;
      return ["n" + (n - unit)].concat(unit ? [String(unit)] : []);
    }
    var hundreds = Math.floor(n / 100), rest = n % 100;
    return [String(hundreds), "hundred"].concat(rest ? enCardinal(rest) : []);
  }

  function boCardinal(n) {
    if (n < 10) return [String(n)];
    if (n < 20) return ["n" + n];
    if (n < 100) {
      var unit = n % 10, tens = n - unit;
      return ["n" + tens].concat(unit ? ["c" + tens, String(unit)] : []);
    }
    var hundreds = Math.floor(n / 100), rest = n % 100;
    return ["n" + hundreds * 100].concat(rest ? ["dang"].concat(boCardinal(rest)) : []);
  }

  function clipSequence(number, windowNumber, language) {
    language = language === undefined ? "zh" : language;
    if (typeof windowNumber !== "number" || !Number.isInteger(windowNumber) || windowNumber < 1 ||
        windowNumber > MAX_WINDOW) {
      throw VoiceError("window number " + JSON.stringify(windowNumber) + " is not an integer from 1 to " + MAX_WINDOW);
    }
    var parts = splitNumber(number), letters = parts[0], digits = parts[1];
    if (language === "zh") {
      return ["qing"].concat(letters, digits, ["hao-dao"], zhCardinal(windowNumber), ["hao-chuangkou-banli"]);
    }
    if (language === "en") {
      return ["number"].concat(letters, digits, ["please-go-to-window"], enCardinal(windowNumber));
    }
    if (language === "bo") {
      return ["number"].concat(letters, digits, ["window-number"], boCardinal(windowNumber), ["please-go"]);
    }
    throw VoiceError("no voice rules for language " + JSON.stringify(language) + "; known: " + LANGUAGES.join(", "));
  }

  return { clipSequence: clipSequence, splitNumber: splitNumber, LANGUAGES: LANGUAGES, MAX_WINDOW: MAX_WINDOW };
});
