import { type FormEvent, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useSession } from '../session'
import { CodeField, ErrorMessage, PageTitle, TextField, useAction } from '../ui'

/** Sign-in: password and the authenticator's six digits (every agency account has TOTP). */
export function LoginPage() {
  const { t } = useTranslation()
  const { signIn } = useSession()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [code, setCode] = useState('')
  const action = useAction(signIn)

  const submit = (event: FormEvent) => {
    event.preventDefault()
    void action.run({ username, password, code })
  }
  return (
    <section className="narrow">
      <PageTitle>{t('login.title')}</PageTitle>
      <p>{t('login.intro')}</p>
      <form onSubmit={submit} aria-describedby="login-note">
        <TextField
          label={t('login.username')}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          autoComplete="username"
          required
        />
        <TextField
          label={t('login.password')}
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="current-password"
          required
        />
        <CodeField value={code} onChange={setCode} />
        <ErrorMessage error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? t('login.signingIn') : t('login.submit')}
        </button>
      </form>
      <p id="login-note" className="muted">
        {t('login.note')}
      </p>
    </section>
  )
}
