import i18next from 'i18next'
import { initReactI18next } from 'react-i18next'
import { en } from './locales/en'
import { ja } from './locales/ja'

/** Japanese by default; English when chosen (remembered in this browser). */
const STORED = 'tokumei.language'

function initial(): 'ja' | 'en' {
  try {
    return localStorage.getItem(STORED) === 'en' ? 'en' : 'ja'
  } catch {
    return 'ja'
  }
}

export function setLanguage(language: 'ja' | 'en'): void {
  try {
    localStorage.setItem(STORED, language)
  } catch {
    // A browser that keeps nothing still switches for this page.
  }
  void i18next.changeLanguage(language)
}

i18next.on('languageChanged', (language) => {
  document.documentElement.lang = language
})

await i18next.use(initReactI18next).init({
  resources: { ja: { translation: ja }, en: { translation: en } },
  lng: initial(),
  fallbackLng: 'ja',
  interpolation: { escapeValue: false },
  returnNull: false,
})
document.documentElement.lang = i18next.language

export default i18next
