// Matchwell's only script: it starts the NHS.UK frontend's components (menus, error summary
// focus, buttons). Every page works without it.
import { initAll } from '/static/nhsuk/nhsuk-frontend.min.js'

document.body.classList.add('nhsuk-frontend-supported')
initAll()
