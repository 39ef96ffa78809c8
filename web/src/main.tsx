import { render } from 'preact'
import { App } from './app/app.js'
import { restoreIdentity } from './identity/identity-session.js'
import { registerServiceWorker } from './pwa/register.js'
import { applyTheme, theme } from './theme/theme.js'
import './styles.css'

applyTheme(theme.value)
render(<App />, document.getElementById('app')!)
registerServiceWorker()
void restoreIdentity()
