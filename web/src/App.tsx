import type { ReactElement } from 'react'
import { useTranslation } from 'react-i18next'
import { setLanguage } from './i18n'
import { AuditPage } from './pages/Audit'
import { DashboardPage } from './pages/Dashboard'
import { InstitutionPortalPage } from './pages/InstitutionPortal'
import { InstitutionsPage } from './pages/Institutions'
import { LinkagePage } from './pages/Linkage'
import { LoginPage } from './pages/Login'
import { OptOutsPage } from './pages/OptOuts'
import { PatientsPage } from './pages/Patients'
import { ProjectsPage } from './pages/Projects'
import { ReleasesPage } from './pages/Releases'
import { ResearcherPage } from './pages/Researcher'
import { StatisticsPage } from './pages/Statistics'
import { Link, type Route, useRoute } from './router'
import { useSession } from './session'

/** The agency's staff (every role but the researcher's). */
const STAFF = [
  'admin',
  'intake_operator',
  'linkage_reviewer',
  'anonymization_engineer',
  'reviewer',
  'security_officer',
]

/** Each signed-in page, who sees it in the menu, and what draws it. The server checks again. */
const PAGES: ReadonlyArray<{
  readonly path: string
  readonly key: string
  readonly roles: readonly string[]
  readonly page: (route: Route) => ReactElement
}> = [
  { path: '', key: 'dashboard', roles: STAFF, page: () => <DashboardPage /> },
  // A researcher's first page is their own portal.
  { path: 'my', key: 'researcher', roles: ['researcher'], page: () => <ResearcherPage /> },
  { path: 'institutions', key: 'institutions', roles: STAFF, page: () => <InstitutionsPage /> },
  {
    path: 'optouts',
    key: 'optouts',
    roles: ['admin', 'intake_operator', 'security_officer'],
    page: () => <OptOutsPage />,
  },
  { path: 'linkage', key: 'linkage', roles: ['linkage_reviewer'], page: (r) => <LinkagePage route={r} /> },
  {
    path: 'projects',
    key: 'projects',
    roles: ['admin', 'reviewer', 'researcher'],
    page: (r) => <ProjectsPage route={r} />,
  },
  {
    path: 'releases',
    key: 'releases',
    roles: ['admin', 'anonymization_engineer', 'reviewer'],
    page: (r) => <ReleasesPage route={r} />,
  },
  {
    path: 'statistics',
    key: 'statistics',
    roles: ['admin', 'anonymization_engineer'],
    page: (r) => <StatisticsPage route={r} />,
  },
  { path: 'audit', key: 'audit', roles: ['admin', 'security_officer'], page: () => <AuditPage /> },
]

/** Pages anyone may open: the patients' page, the institutions' page, sign-in. */
const PUBLIC: Readonly<Record<string, (route: Route) => ReactElement>> = {
  patients: () => <PatientsPage />,
  institution: () => <InstitutionPortalPage />,
}

function LanguageSwitch() {
  const { t, i18n } = useTranslation()
  const next = i18n.language === 'en' ? 'ja' : 'en'
  return (
    <button type="button" className="link-button" onClick={() => setLanguage(next)} lang={next}>
      {t('app.switchLanguage')}
    </button>
  )
}

export function App() {
  const { t } = useTranslation()
  const route = useRoute()
  const session = useSession()
  const top = route.parts[0] ?? ''
  const publicPage = PUBLIC[top]
  const visible = PAGES.filter((p) => session.has(...p.roles))
  const chosen = visible.find((p) => p.path === top) ?? (top === '' ? visible[0] : undefined)

  let main: ReactElement
  if (publicPage) main = publicPage(route)
  else if (session.account === undefined) main = <p role="status">{t('common.loading')}</p>
  else if (session.account === null) main = <LoginPage />
  else if (chosen) main = chosen.page(route)
  else
    main = (
      <>
        <h1>{t('app.notHere')}</h1>
        <p>{t('app.notHereBody')}</p>
      </>
    )

  return (
    <>
      {/* A button, not a link: the URL's fragment is the route here. */}
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        {t('app.skip')}
      </button>
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            匿
          </span>
          <span>
            <strong>tokumei</strong> <span className="muted">{t('app.tagline')}</span>
          </span>
        </div>
        <div className="top-actions">
          <LanguageSwitch />
          {session.account ? (
            <>
              <span className="who">
                {t('app.signedInAs', { name: session.account.username })}
                <span className="muted">
                  {' '}
                  ({session.account.roles.map((r) => t(`roles.${r}`)).join('・')})
                </span>
              </span>
              <button
                type="button"
                onClick={() => session.signOut().then(() => (window.location.hash = '/'))}
              >
                {t('app.signOut')}
              </button>
            </>
          ) : null}
        </div>
      </header>
      <div className="layout">
        <nav aria-label={t('app.menu')}>
          <ul>
            {session.account
              ? visible.map((p) => (
                  <li key={p.key}>
                    <Link
                      to={`/${p.path}`}
                      aria-current={chosen?.key === p.key && !publicPage ? 'page' : undefined}
                    >
                      {t(`nav.${p.key}`)}
                    </Link>
                  </li>
                ))
              : null}
            <li className="sep">
              <Link to="/patients" aria-current={top === 'patients' ? 'page' : undefined}>
                {t('nav.patients')}
              </Link>
            </li>
            <li>
              <Link to="/institution" aria-current={top === 'institution' ? 'page' : undefined}>
                {t('nav.institution')}
              </Link>
            </li>
            {!session.account ? (
              <li>
                <Link to="/" aria-current={!publicPage ? 'page' : undefined}>
                  {t('nav.signIn')}
                </Link>
              </li>
            ) : null}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {main}
        </main>
      </div>
      <footer>
        <p className="muted">{t('app.footer')}</p>
      </footer>
    </>
  )
}
